"""Bad input gives errors naming the file, the item and what was expected; nothing is skipped."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from sophia_eval.bench.loading import DataError, load_split, resolve_data_dir
from sophia_eval.bench.registry import get_benchmark


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    return buf.getvalue()


GOOD = '{"id": "a", "question": "1+1?", "answer": "2", "image": "a.png"}\n{"id": "b", "question": "2+2?", "answer": "4", "image": "b.png"}\n'


def _load(root):
    return load_split(get_benchmark("toy"), data_dir=root)


def test_good_toy_loads(toy):
    _, root = toy({"data.jsonl": GOOD, "a.png": _png(), "b.png": _png()})
    samples, _ = _load(root)
    assert [s.id for s in samples] == ["a", "b"]


def test_malformed_line_names_file_and_line(toy):
    _, root = toy({"data.jsonl": GOOD.replace('"b",', '"b"'), "a.png": _png(), "b.png": _png()})
    with pytest.raises(DataError, match=r"data\.jsonl:2: malformed JSON"):
        _load(root)


def test_missing_image_names_file_item_and_path(toy):
    _, root = toy({"data.jsonl": GOOD, "a.png": _png()})
    with pytest.raises(DataError, match=r"data\.jsonl:2 \(item b\): image file .*b\.png is missing"):
        _load(root)


def test_missing_answer_field_names_item(toy):
    _, root = toy({"data.jsonl": GOOD.replace('"answer": "4", ', ""), "a.png": _png(), "b.png": _png()})
    with pytest.raises(DataError, match=r"item b.*'answer'.*missing"):
        _load(root)


def test_empty_gold_is_an_error_not_a_skip(toy):
    _, root = toy({"data.jsonl": GOOD.replace('"answer": "4"', '"answer": " "'), "a.png": _png(), "b.png": _png()})
    with pytest.raises(DataError, match="item b.*empty gold"):
        _load(root)


def test_declared_exclusion_is_reported(toy):
    _, root = toy({"data.jsonl": GOOD, "a.png": _png(), "b.png": _png()}, n_items=1, extra='exclude: {b: "broken upstream"}\n')
    samples, report = _load(root)
    assert (len(samples), report.excluded) == (1, {"b": "broken upstream"})


def test_split_exclusion_applies_to_its_split_only(toy):
    from tests.benchmarks.conftest import MINIMAL_SPEC

    text = MINIMAL_SPEC.format(name="toy", n_items=1, fmt="jsonl", file="data.jsonl", extra="").replace(
        "    local: {dir: toy", '    exclude: {b: "prose gold"}\n    local: {dir: toy', 1).replace(
        "splits:\n", "splits:\n  other:\n    n_items: 2\n    local: {dir: toy, format: jsonl, files: [{path: data.jsonl}]}\n", 1)
    _, root = toy({"data.jsonl": GOOD, "a.png": _png(), "b.png": _png()}, spec_text=text)
    samples, report = _load(root)
    assert (len(samples), report.excluded) == (1, {"b": "prose gold"})
    other, other_report = load_split(get_benchmark("toy"), "other", data_dir=root)
    assert (len(other), other_report.excluded) == (2, {})


def test_duplicate_id_is_an_error(toy):
    _, root = toy({"data.jsonl": GOOD.replace('"id": "b"', '"id": "a"'), "a.png": _png(), "b.png": _png()})
    with pytest.raises(DataError, match="duplicate item id 'a'"):
        _load(root)


def test_count_mismatch_is_an_error(toy):
    _, root = toy({"data.jsonl": GOOD, "a.png": _png(), "b.png": _png()}, n_items=3)
    with pytest.raises(DataError, match="loaded 2 items .* expects 3"):
        _load(root)


def test_sha256_mismatch_is_an_error(toy):
    wrong = hashlib.sha256(b"other").hexdigest()
    spec_dir, root = toy({"data.jsonl": GOOD, "a.png": _png(), "b.png": _png()})
    path = spec_dir / "benchmark.yaml"
    path.write_text(path.read_text().replace("{path: data.jsonl}", "{path: data.jsonl, sha256: " + wrong + "}"))
    with pytest.raises(DataError, match="does not match the pinned"):
        _load(root)


def test_missing_data_file_names_expected_path(toy):
    _, root = toy({"a.png": _png()})
    with pytest.raises(DataError, match=r"toy/data\.jsonl"):
        _load(root)


def test_unknown_answer_type_label_names_item(toy):
    rows = GOOD.replace('"answer": "2"', '"answer": "2", "kind": "Numeric"')
    extra = "answer_type_map: {Number: numeric}\n"
    spec_dir, root = toy({"data.jsonl": rows, "a.png": _png(), "b.png": _png()}, extra=extra)
    path = spec_dir / "benchmark.yaml"
    path.write_text(path.read_text().replace("  images: [image]", "  images: [image]\n  answer_type: kind"))
    with pytest.raises(DataError, match="item a.*'Numeric'"):
        _load(root)


def test_missing_data_root_says_how_to_set_it(tmp_path):
    with pytest.raises(DataError, match="--data-dir.*SOPHIA_EVAL_DATA"):
        resolve_data_dir(tmp_path / "nope")


def test_env_var_is_used_when_no_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("SOPHIA_EVAL_DATA", str(tmp_path))
    assert resolve_data_dir() == tmp_path.resolve()


def test_flag_beats_env_var(tmp_path, monkeypatch):
    (tmp_path / "flag").mkdir()
    monkeypatch.setenv("SOPHIA_EVAL_DATA", str(tmp_path))
    assert resolve_data_dir(tmp_path / "flag") == (tmp_path / "flag").resolve()


def test_default_is_shared_data_beside_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "proj").mkdir()
    monkeypatch.delenv("SOPHIA_EVAL_DATA", raising=False)
    monkeypatch.chdir(tmp_path / "proj")
    assert resolve_data_dir() == (tmp_path / "shared" / "data").resolve()


def test_hub_source_is_read_through_datasets_load_dataset(toy, tmp_path):
    # `datasets.load_dataset` also accepts a local folder; this runs the real hub code path offline.
    import pyarrow as pa
    import pyarrow.parquet as pq

    hub_dir = tmp_path / "hub_copy"
    (hub_dir / "data").mkdir(parents=True)
    rows = [{"id": "a", "question": "1+1?", "answer": "2", "image": {"bytes": _png(), "path": "a.png"}}]
    pq.write_table(pa.Table.from_pylist(rows), hub_dir / "data" / "train-00000-of-00001.parquet")
    spec = f"""name: toy
title: Toy
description: toy
version: "1"
license: MIT
homepage: https://example.org
metric: accuracy
extraction: default
prompt_template: default
judge: none
default_split: test
splits:
  test:
    n_items: 1
    hub: {{id: {hub_dir}, split: train}}
fields: {{id: id, question: question, answer: answer, images: [image]}}
"""
    _, root = toy({}, spec_text=spec)
    samples, report = _load(root)
    assert (samples[0].answer, samples[0].images[0].size, report.hub) == ("2", (4, 4), True)


def test_string_false_multiple_is_not_true(toy):
    rows = GOOD.replace('"answer": "2"', '"answer": "2", "multi": "False"')
    spec_dir, root = toy({"data.jsonl": rows, "a.png": _png(), "b.png": _png()})
    path = spec_dir / "benchmark.yaml"
    path.write_text(path.read_text().replace("  images: [image]", "  images: [image]\n  multiple: multi"))
    assert _load(root)[0][0].multiple is False


def test_unparsed_tolerance_string_names_item_and_fix(toy):
    rows = GOOD.replace('"answer": "2"', '"answer": "2", "err": "None"')
    spec_dir, root = toy({"data.jsonl": rows, "a.png": _png(), "b.png": _png()})
    path = spec_dir / "benchmark.yaml"
    path.write_text(path.read_text().replace("  images: [image]", "  images: [image]\n  tolerance: err"))
    with pytest.raises(DataError, match="item a.*olympiad_tolerance"):
        _load(root)
