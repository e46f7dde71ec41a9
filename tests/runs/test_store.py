"""Run-record contract: append-only, crash-tolerant, config-checked, schema-versioned."""

import json

import pytest

from sophia_eval.runs.store import SCHEMA_VERSION, RunStore, RunStoreError, config_hash


def _meta(**config):
    return {"config": {"benchmark": "b", "model": "m", **config}}


def test_append_and_read_back(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "run", _meta())
    store.append([{"item_id": "1", "sample_index": 0, "response": "x"}])
    store.append([{"item_id": "2", "sample_index": 0, "response": "y"}])
    assert [r["item_id"] for r in store.records()] == ["1", "2"]
    assert store.done_keys() == {("1", 0), ("2", 0)}


def test_resume_with_other_config_is_refused(tmp_path):
    RunStore.create_or_resume(tmp_path / "run", _meta(temperature=1.0))
    with pytest.raises(RunStoreError, match="different config is a different run"):
        RunStore.create_or_resume(tmp_path / "run", _meta(temperature=0.0))


def test_resume_with_same_config_keeps_records(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "run", _meta())
    store.append([{"item_id": "1", "sample_index": 0}])
    again = RunStore.create_or_resume(tmp_path / "run", _meta())
    assert again.done_keys() == {("1", 0)}


def test_torn_last_line_is_ignored_and_overwritten(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "run", _meta())
    store.append([{"item_id": "1", "sample_index": 0}])
    with store.samples_file.open("a") as fh:
        fh.write('{"item_id": "2", "sam')  # killed mid-write
    assert store.done_keys() == {("1", 0)}
    store.append([{"item_id": "2", "sample_index": 0}])
    lines = store.samples_file.read_text().splitlines()
    assert [json.loads(line)["item_id"] for line in lines] == ["1", "2"]


def test_complete_record_missing_only_newline_is_kept(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "run", _meta())
    with store.samples_file.open("a") as fh:
        fh.write('{"item_id": "1", "sample_index": 0}')
    assert store.done_keys() == {("1", 0)}
    store.append([{"item_id": "2", "sample_index": 0}])
    assert store.done_keys() == {("1", 0), ("2", 0)}


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "run", _meta())
    store.samples_file.write_text('{"item_id": "1", "sample_index": 0}\nnot json\n{"item_id": "2", "sample_index": 0}\n')
    with pytest.raises(RunStoreError, match=r"samples.jsonl:2: corrupt record"):
        list(store.records())


def test_newer_schema_is_refused(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "run", _meta())
    meta = json.loads(store.run_file.read_text())
    meta["schema_version"] = SCHEMA_VERSION + 1
    store.run_file.write_text(json.dumps(meta))
    with pytest.raises(RunStoreError, match="newer than this sophia-eval understands"):
        RunStore.open(store.path)


def test_missing_run_dir_is_a_clear_error(tmp_path):
    with pytest.raises(RunStoreError, match="no such run directory"):
        RunStore.open(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunStoreError, match="run.json: missing"):
        RunStore.open(tmp_path / "empty")


def test_update_meta_and_replace_records(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "run", _meta())
    store.append([{"item_id": "1", "sample_index": 0, "correct": False}])
    store.replace_records([{"item_id": "1", "sample_index": 0, "correct": True}])
    store.update_meta(summary={"pass@1": 1.0})
    assert [r["correct"] for r in store.records()] == [True]
    assert store.meta["summary"] == {"pass@1": 1.0}
    assert store.meta["config_hash"] == config_hash(_meta()["config"])


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
