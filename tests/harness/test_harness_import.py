"""Importers + `sophia-eval score`: re-score a run, a predictions JSONL and lmms-eval sample logs.

The lmms-eval fixture follows the real `--log_samples` layout (file `<date>_samples_<task>.jsonl`;
per line `doc_id`, `target` as a string, `filtered_resps`, hashes, `input`, the task's metric
dict; `resps` dropped when equal to `filtered_resps`, `doc` dropped), with a MathVision-shaped
metric dict (`mathvision_standard_eval`: response + scores, no item id).
"""

import json

import pytest
from harness_fakes import BENCH, FakeGenerator, toy_config, toy_samples
from typer.testing import CliRunner

from sophia_eval.harness import runner as harness
from sophia_eval.harness import importers
from sophia_eval.cli import app
from sophia_eval.runs.store import RunStore

runner = CliRunner()


def _lmms_line(doc_id, target, text, **extra):
    return {"doc_id": doc_id, "target": target, "filtered_resps": [text], "doc_hash": "d", "prompt_hash": "p",
            "target_hash": "t", "input": "Please solve the problem step by step...",
            "mathvision_standard_eval": {"response": [text], "scores": [False]}, **extra}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_lmms_log_without_benchmark_uses_target_as_gold(tmp_path):
    log = _write(tmp_path / "2025-01-01T00-00-00_samples_toy.jsonl",
                 [_lmms_line(0, "7", "so \\boxed{7}"), _lmms_line(1, "3", "I think \\boxed{4}")])
    path = importers.import_lmms(log, out=tmp_path / "run")
    summary = harness.rescore(path, workers=1, progress=False)
    assert (summary["status_counts"], summary["metrics"]["pass@1"]["value"]) == ({"correct": 1, "incorrect": 1}, 50.0)


def test_lmms_item_id_found_in_metric_dict(tmp_path):
    log = _write(tmp_path / "x_samples_mathvista.jsonl",
                 [{"doc_id": 0, "target": "2", "filtered_resps": ["2"],
                   "mathvista_gpt_eval_score": {"question_id": "pid-9", "true_false": True}}])
    path = importers.import_lmms(log, out=tmp_path / "run")
    assert next(RunStore.open(path).records())["item_id"] == "pid-9"


def test_lmms_repeats_become_sample_indices(tmp_path):
    log = _write(tmp_path / "x_samples_toy.jsonl",
                 [{"doc_id": 0, "target": "2", "resps": [["\\boxed{2}", "\\boxed{3}"]], "filtered_resps": ["\\boxed{2}"]}])
    recs = list(RunStore.open(importers.import_lmms(log, out=tmp_path / "run")).records())
    assert [(r["sample_index"], r["response"]) for r in recs] == [(0, "\\boxed{2}"), (1, "\\boxed{3}")]


def test_lmms_old_json_logs_format(tmp_path):
    log = tmp_path / "toy.json"
    log.write_text(json.dumps({"logs": [{"doc_id": 0, "doc": {"pid": "a1"}, "target": "5",
                                          "resps": [["\\boxed{5}"]], "filtered_resps": ["\\boxed{5}"]}]}))
    path = importers.import_lmms(log, out=tmp_path / "run")
    assert harness.rescore(path, workers=1, progress=False)["status_counts"] == {"correct": 1}


def test_lmms_line_without_doc_id_names_file_and_line(tmp_path):
    log = _write(tmp_path / "x_samples_toy.jsonl", [{"target": "1", "filtered_resps": ["1"]}])
    with pytest.raises(importers.ImportFormatError, match=r"x_samples_toy.jsonl:1: no 'doc_id'"):
        importers.import_lmms(log, out=tmp_path / "run")


def test_lmms_log_against_real_mathvision_takes_gold_from_benchmark(tmp_path):
    from sophia_eval.bench.loading import load_samples

    samples = load_samples("mathvision", split="testmini")
    gold0 = samples[0].answer
    log = _write(tmp_path / "2025_samples_mathvision_testmini.jsonl",
                 [_lmms_line(0, "ignored", f"The answer is \\boxed{{{gold0}}}"), _lmms_line(1, "x", "no idea")])
    path = importers.import_lmms(log, benchmark=harness.benchmark_info("mathvision:testmini"), samples=samples,
                                 out=tmp_path / "run")
    recs = list(RunStore.open(path).records())
    assert ([r["item_id"] for r in recs], recs[0]["gold"]) == ([samples[0].id, samples[1].id], gold0)


def test_jsonl_import_with_gold_and_several_responses(tmp_path):
    preds = _write(tmp_path / "preds.jsonl", [{"id": "a", "gold": "4", "responses": ["\\boxed{4}", "\\boxed{5}"]},
                                             {"id": "b", "gold": "1", "response": "\\boxed{1}"}])
    path = importers.import_jsonl(preds, out=tmp_path / "run")
    summary = harness.rescore(path, workers=1, progress=False)
    assert (summary["n_items"], summary["n_samples"], summary["status_counts"]["correct"]) == (2, 3, 2)


def test_jsonl_without_gold_or_benchmark_is_refused(tmp_path):
    preds = _write(tmp_path / "preds.jsonl", [{"id": "a", "response": "x"}])
    with pytest.raises(importers.ImportFormatError, match=r"preds.jsonl:1: item a: no 'gold'"):
        importers.import_jsonl(preds, out=tmp_path / "run")


def test_jsonl_duplicate_prediction_is_refused(tmp_path):
    preds = _write(tmp_path / "p.jsonl", [{"id": "a", "gold": "1", "response": "1"}] * 2)
    with pytest.raises(importers.ImportFormatError, match="appears twice"):
        importers.import_jsonl(preds, out=tmp_path / "run")


def test_cli_score_rescores_a_run(tmp_path):
    path = harness.run(toy_config(tmp_path / "r"), generator=FakeGenerator(), samples=toy_samples(), bench=BENCH,
                       progress=False)
    store = RunStore.open(path)
    tampered = [{**r, "status": "incorrect", "correct": False} for r in store.records()]
    store.replace_records(tampered)  # stale verdicts: only a real re-verification restores 50%
    result = runner.invoke(app, ["score", str(path), "--no-progress", "--verify-workers", "1"])
    assert result.exit_code == 0 and "50.0" in result.output
    assert RunStore.open(path).meta["summary"]["metrics"]["pass@1"]["value"] == 50.0
    assert any(r["correct"] for r in RunStore.open(path).records())


def test_cli_score_imports_lmms_log(tmp_path):
    log = _write(tmp_path / "2025_samples_toy.jsonl", [_lmms_line(0, "7", "\\boxed{7}")])
    out = tmp_path / "imported"
    result = runner.invoke(app, ["score", "--import-lmms", str(log), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert RunStore.open(out).meta["summary"]["metrics"]["pass@1"]["value"] == 100.0


def test_cli_score_needs_exactly_one_source(tmp_path):
    result = runner.invoke(app, ["score"])
    assert result.exit_code == 2 and "exactly one" in result.output
