"""harness.run with a deterministic fake generator: records, summary, errors, resume, shards."""

import json

import pytest
from harness_fakes import BENCH, FakeGenerator, toy_config, toy_samples

from sophia_eval.harness import runner as harness
from sophia_eval.harness.config import parse_shard
from sophia_eval.harness.shards import merge
from sophia_eval.harness.protocols import get_protocol
from sophia_eval.runs.store import RunStore, RunStoreError

CONTRACT_FIELDS = {"item_id", "sample_index", "prompt_hash", "response", "finish_reason", "prompt_tokens",
                   "completion_tokens", "latency_s", "error", "extracted", "status", "correct", "method",
                   "reason", "verifier_version", "categories"}


def _run(out, gen=None, **kw):
    samples = kw.pop("samples", toy_samples())
    return harness.run(toy_config(out, **kw), generator=gen or FakeGenerator(), samples=samples, bench=BENCH,
                       progress=False)


def _records(path):
    return list(RunStore.open(path).records())


def test_every_record_has_the_contract_fields(tmp_path):
    recs = _records(_run(tmp_path / "r"))
    assert all(CONTRACT_FIELDS <= set(r) for r in recs)


def test_fake_scores_half_the_items(tmp_path):
    summary = RunStore.open(_run(tmp_path / "r")).meta["summary"]
    assert (summary["metrics"]["pass@1"]["value"], summary["n_items"]) == (50.0, 12)


def test_run_is_marked_complete(tmp_path):
    assert RunStore.open(_run(tmp_path / "r")).meta["status"] == "complete"


def test_category_breakdown_reaches_summary(tmp_path):
    cats = RunStore.open(_run(tmp_path / "r")).meta["summary"]["categories"]
    assert set(cats["level"]) == {"1", "2", "3"}


def test_backend_error_items_are_not_scored_as_wrong(tmp_path):
    path = _run(tmp_path / "r", FakeGenerator(fail_items=[0, 1]))
    recs = {r["item_id"]: r for r in _records(path)}
    summary = RunStore.open(path).meta["summary"]
    assert (recs["q0"]["status"], recs["q0"]["correct"]) == ("error", None)
    # 10 scored items remain: q2..q11, even ones right -> 5/10
    assert (summary["metrics"]["pass@1"]["value"], summary["status_counts"]["error"]) == (50.0, 2)


def test_backend_timeout_is_recorded_as_error_and_counted(tmp_path):
    gen = FakeGenerator(raise_batches=[1], exc=TimeoutError)
    path = _run(tmp_path / "r", gen, batch_size=4)
    summary = RunStore.open(path).meta["summary"]
    assert (summary["status_counts"]["error"], summary["status_counts"].get("incorrect"),
            summary["metrics"]["pass@1"]["n_items"]) == (4, 4, 8)


def test_timeout_reason_is_kept_in_record(tmp_path):
    path = _run(tmp_path / "r", FakeGenerator(raise_batches=[0], exc=TimeoutError), batch_size=12)
    assert all("TimeoutError" in r["reason"] for r in _records(path))


def test_consecutive_failures_stop_the_run(tmp_path):
    with pytest.raises(harness.HarnessError, match="rerun the same command to resume"):
        _run(tmp_path / "r", FakeGenerator(raise_batches=[0, 1, 2]), batch_size=2)


def test_resume_retries_errors_without_duplicates(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(harness.HarnessError):
        _run(out, FakeGenerator(raise_batches=[1, 2, 3]), batch_size=2)
    _run(out, FakeGenerator(), batch_size=2)
    recs = _records(out)
    assert (len(recs), sum(r["status"] == "error" for r in recs)) == (12, 0)


def test_resume_skips_recorded_pairs(tmp_path):
    out = tmp_path / "r"
    _run(out)
    gen = FakeGenerator()
    _run(out, gen)
    assert gen.calls == 0


def test_other_config_same_dir_is_refused(tmp_path):
    _run(tmp_path / "r")
    with pytest.raises(RunStoreError, match="different config"):
        _run(tmp_path / "r", protocol=get_protocol("greedy", max_new_tokens=64))


def test_sampled_run_reports_pass_at_k_and_majority(tmp_path):
    proto = get_protocol("sophia", n=4, max_new_tokens=32)
    metrics = RunStore.open(_run(tmp_path / "r", protocol=proto)).meta["summary"]["metrics"]
    assert {"pass@1", "pass@2", "pass@4", "avg@4", "maj@4"} <= set(metrics)


def test_records_carry_gold_for_rescoring(tmp_path):
    rec = _records(_run(tmp_path / "r"))[0]
    assert (rec["gold"], rec["verify_kwargs"]["policy"]) == ("1", "default")


def test_rescore_restores_tampered_verdicts(tmp_path):
    path = _run(tmp_path / "r")
    store = RunStore.open(path)
    recs = _records(path)
    for r in recs:
        r.update(status="incorrect", correct=False)
    store.replace_records(recs)
    summary = harness.rescore(path, workers=1, progress=False)
    assert summary["metrics"]["pass@1"]["value"] == 50.0


def _strip(records):
    return [{k: v for k, v in r.items() if k not in harness.TIMING_FIELDS} for r in records]


def test_shards_merge_to_the_unsharded_records(tmp_path):
    whole = _records(_run(tmp_path / "whole"))
    shards = [_run(tmp_path / f"s{i}", shard=(i, 3)) for i in range(3)]
    merged = merge(shards, tmp_path / "merged")
    assert _strip(_records(merged)) == _strip(whole)


def test_merged_run_has_unsharded_config_hash(tmp_path):
    whole = RunStore.open(_run(tmp_path / "whole")).meta["config_hash"]
    shards = [_run(tmp_path / f"s{i}", shard=(i, 2)) for i in range(2)]
    assert RunStore.open(merge(shards, tmp_path / "m")).meta["config_hash"] == whole


def test_merge_refuses_a_missing_shard(tmp_path):
    shards = [_run(tmp_path / f"s{i}", shard=(i, 3)) for i in range(2)]
    with pytest.raises(harness.HarnessError, match="missing shard"):
        merge(shards, tmp_path / "m")


def test_merge_refuses_duplicate_records(tmp_path):
    shards = [_run(tmp_path / f"s{i}", shard=(i, 2)) for i in range(2)]
    store = RunStore.open(shards[1])
    store.append([_records(shards[0])[0]])
    with pytest.raises(harness.HarnessError, match="recorded by both"):
        merge(shards, tmp_path / "m")


def test_merge_refuses_missing_items(tmp_path):
    shards = [_run(tmp_path / f"s{i}", shard=(i, 2)) for i in range(2)]
    store = RunStore.open(shards[0])
    store.replace_records(_records(shards[0])[1:])
    with pytest.raises(harness.HarnessError, match="have no record"):
        merge(shards, tmp_path / "m")


def test_parse_shard_rejects_bad_spec():
    with pytest.raises(harness.HarnessError, match="expected I/N"):
        parse_shard("3/3")


def test_run_json_summary_is_json_and_in_percent(tmp_path):
    meta = json.loads((_run(tmp_path / "r") / "run.json").read_text())
    assert 0 <= meta["summary"]["metrics"]["pass@1"]["value"] <= 100


def test_dynamath_run_reports_worst_case(tmp_path):
    from dataclasses import replace

    samples = [replace(s, categories={"seed": str(i // 10)}) for i, s in enumerate(toy_samples(20))]
    bench = replace(BENCH, metric="dynamath", breakdown=())
    path = harness.run(toy_config(tmp_path / "r"), generator=FakeGenerator(), samples=samples, bench=bench,
                       progress=False)
    metrics = RunStore.open(path).meta["summary"]["metrics"]
    # q0..q9 are the 10 variants of seed 0 (q0 right, q1 wrong, ...) -> every seed has a wrong variant
    assert (metrics["pass@1"]["value"], metrics["worst_case"]["value"]) == (50.0, 0.0)


def test_wemath_run_reports_four_dimensions(tmp_path):
    from dataclasses import replace

    keys = ["2steps_1", "2steps_2", "2steps_multi"]
    samples = [replace(s, categories={"problem_id": "p1", "step": keys[i]}) for i, s in enumerate(toy_samples(3))]
    bench = replace(BENCH, metric="wemath", breakdown=())
    path = harness.run(toy_config(tmp_path / "r"), generator=FakeGenerator(), samples=samples, bench=bench,
                       progress=False)
    summary = RunStore.open(path).meta["summary"]
    # steps q0 right, q1 wrong; composite q2 right -> rote memorisation (strict), mastery (loose)
    assert (summary["primary"], summary["wemath"]["CM_loose"], summary["wemath"]["RM_strict"]) == (
        "wemath_strict", 100.0, 100.0)


def test_resume_refuses_changed_prompts(tmp_path):
    out = tmp_path / "r"
    _run(out, limit=3)
    store = RunStore.open(out)
    recs = _records(out)
    recs[0]["prompt_hash"] = "0000"
    store.replace_records(recs[:1])  # one done record with a stale prompt, the rest to generate
    with pytest.raises(harness.HarnessError, match="prompt of item q0"):
        _run(out, limit=3)


def test_cli_merge_combines_shards(tmp_path):
    from typer.testing import CliRunner

    from sophia_eval.cli import app

    shards = [_run(tmp_path / f"s{i}", shard=(i, 2)) for i in range(2)]
    result = CliRunner().invoke(app, ["merge", *map(str, shards), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert RunStore.open(tmp_path / "m").meta["summary"]["n_items"] == 12


def test_cli_merge_reports_missing_shard(tmp_path):
    from typer.testing import CliRunner

    from sophia_eval.cli import app

    shard = _run(tmp_path / "s0", shard=(0, 2))
    result = CliRunner().invoke(app, ["merge", str(shard), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "missing shard" in result.output


def test_finished_run_is_resummarised_without_loading_the_model(tmp_path):
    out = tmp_path / "r"
    _run(out)

    def never():
        raise AssertionError("model loaded for a finished run")

    path = harness.run(toy_config(out), samples=toy_samples(), bench=BENCH, progress=False, generator_factory=never)
    assert RunStore.open(path).meta["summary"]["n_items"] == 12


def test_unfinished_run_loads_the_model_through_the_factory(tmp_path):
    loaded = []

    def factory():
        loaded.append(1)
        return FakeGenerator()

    harness.run(toy_config(tmp_path / "r"), samples=toy_samples(), bench=BENCH, progress=False,
                generator_factory=factory)
    assert loaded == [1]
