"""Harness records: a record that cannot be scored gets its own error; an all-error run is
`failed`; an interruption is `interrupted`; samples keep their rendered prompt."""

from __future__ import annotations

import pytest
from harness_fakes import BENCH, FakeGenerator, toy_config, toy_samples

from sophia_eval.bench.prompts import build_messages, prompt_for_record
from sophia_eval.bench.sample import Sample
from sophia_eval.harness.runner import run, score_records
from sophia_eval.runs.store import RunStore
from sophia_eval.verify import VerifierPool


class _PickyPool:
    """A verifier pool that raises for one gold (as a malformed record would)."""

    def __init__(self, pool, bad_gold):
        self.pool, self.bad_gold = pool, bad_gold

    def verify_many(self, requests):
        if any(r["gold"] == self.bad_gold for r in requests):
            raise TypeError(f"cannot verify gold {self.bad_gold!r}")
        return self.pool.verify_many(requests)


def test_a_record_that_cannot_be_scored_gets_an_error_the_others_a_verdict():
    records = [{"item_id": str(i), "sample_index": 0, "response": "\\boxed{3}", "gold": g, "verify_kwargs": {}}
               for i, g in enumerate(["3", "odd", "4"])]
    with VerifierPool(1, 2.0) as pool:
        score_records(records, _PickyPool(pool, "odd"))
    assert [r["status"] for r in records] == ["correct", "error", "incorrect"]
    assert records[1]["method"] == "scoring" and "cannot verify gold 'odd'" in records[1]["reason"]


def test_a_run_whose_every_sample_errored_is_failed(tmp_path):
    out = run(toy_config(tmp_path / "r"), generator=FakeGenerator(fail_items=range(4)), samples=toy_samples(4),
              bench=BENCH, progress=False)
    assert RunStore.open(out).meta["status"] == "failed"


def test_an_interrupted_run_is_marked_interrupted(tmp_path):
    def stop(batch, n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(toy_config(tmp_path / "r", batch_size=2), generator=FakeGenerator(), samples=toy_samples(6), bench=BENCH,
            progress=False, on_batch=stop)
    meta = RunStore.open(tmp_path / "r").meta
    assert meta["status"] == "interrupted" and len(list(RunStore.open(tmp_path / "r").records())) == 2


def test_samples_keep_the_rendered_prompt(tmp_path):
    out = run(toy_config(tmp_path / "r"), generator=FakeGenerator(), samples=toy_samples(2), bench=BENCH, progress=False)
    first = next(RunStore.open(out).records())
    assert first["prompt"][-1]["role"] == "user"
    assert "What is 0 + 1?" in first["prompt"][-1]["content"][-1]["text"]


def test_stored_image_references_are_relative_to_the_data_root(tmp_path):
    sample = Sample(benchmark="b", id="1", question="Q?", answer="1", images=(str(tmp_path / "b" / "img" / "1.png"),))
    stored = prompt_for_record(build_messages(sample), str(tmp_path))
    assert stored[-1]["content"][0] == {"type": "image", "image": "b/img/1.png"}


def test_a_run_stopped_by_a_failing_backend_is_failed_with_the_error(tmp_path):
    from sophia_eval.harness.runner import HarnessError

    with pytest.raises(HarnessError, match="failed on 1 batches in a row"):
        run(toy_config(tmp_path / "r", batch_size=2, max_consecutive_failures=1),
            generator=FakeGenerator(raise_batches=(0,)), samples=toy_samples(4), bench=BENCH, progress=False)
    meta = RunStore.open(tmp_path / "r").meta
    assert meta["status"] == "failed" and "simulated backend failure" in meta["error"]


def test_a_run_that_stored_its_api_key_resumes_and_loses_the_key(tmp_path):
    import json

    from sophia_eval.runs.store import config_hash

    out = tmp_path / "r"
    config = toy_config(out, backend_options={"api_key": "sk-OLD", "timeout_s": 30})
    run(config, generator=FakeGenerator(), samples=toy_samples(2), bench=BENCH, progress=False)
    meta = json.loads((out / "run.json").read_text())  # as written before options were filtered
    meta["config"]["model"]["options"] = {"api_key": "sk-OLD", "timeout_s": 30}
    meta["config_hash"] = config_hash(meta["config"])
    (out / "run.json").write_text(json.dumps(meta))
    run(config, generator=FakeGenerator(), samples=toy_samples(2), bench=BENCH, progress=False)
    text = (out / "run.json").read_text()
    assert "sk-OLD" not in text and json.loads(text)["status"] == "complete"
