"""Bad run input gives clear errors naming the file."""

from __future__ import annotations

import json

import pytest

from sophia_eval.board.compare import compare_runs
from sophia_eval.runs.reading import RunReadError, find_run_dirs, load_runs, read_run
from sophia_eval.runs.store import RunStoreError


def test_missing_run_directory(tmp_path):
    with pytest.raises(RunStoreError, match=f"{tmp_path / 'nope'}: no such run directory"):
        load_runs([tmp_path / "nope"])


def test_directory_without_runs(tmp_path):
    with pytest.raises(RunReadError, match="no run.json in it or below"):
        find_run_dirs([tmp_path])


def test_corrupt_run_json_names_the_file(make_run):
    run = make_run("r", model="m", outcomes={"1": [True]})
    (run / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RunStoreError, match=f"{run / 'run.json'}: not valid JSON"):
        load_runs([run])


def test_newer_schema_is_refused(make_run):
    run = make_run("r", model="m", outcomes={"1": [True]})
    meta = json.loads((run / "run.json").read_text())
    meta["schema_version"] = 99
    (run / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunStoreError, match="schema version 99 is newer"):
        load_runs([run])


def test_config_without_model_names_the_file(make_run):
    run = make_run("r", model="m", outcomes={"1": [True]})
    meta = json.loads((run / "run.json").read_text())
    del meta["config"]["model"]
    (run / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunReadError, match=f"{run / 'run.json'}: config.model must name the model"):
        read_run(run)


def test_summary_without_metrics_names_the_file(make_run):
    run = make_run("r", model="m", outcomes={"1": [True]})
    meta = json.loads((run / "run.json").read_text())
    meta["summary"] = {"n_items": 1}
    (run / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunReadError, match="summary.metrics must map"):
        read_run(run)


def test_corrupt_samples_line_names_file_and_line(make_run):
    a = make_run("a", model="a", outcomes={"1": [True], "2": [True]})
    b = make_run("b", model="b", outcomes={"1": [True], "2": [True]})
    lines = (b / "samples.jsonl").read_text().splitlines()
    (b / "samples.jsonl").write_text(lines[0][:20] + "\n" + lines[1] + "\n")
    with pytest.raises(RunStoreError, match=f"{b / 'samples.jsonl'}:1: corrupt record"):
        compare_runs(read_run(a), read_run(b))


def test_local_model_path_is_shown_by_its_last_component(make_run):
    assert read_run(make_run("r", model="/ckpts/step-100/", outcomes={"1": [True]})).model == "step-100"
