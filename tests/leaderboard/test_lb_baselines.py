"""Published baselines: every reference number is reachable, and bad rows fail naming file and line."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from lb_helpers import REPO, VOCAB, reference_rows as _reference_rows
from sophia_eval.board.baselines import (
    COLUMNS,
    BaselineError,
    baselines_dir,
    load_baselines,
    load_protocols,
    map_reference_row,
    registry_vocabulary,
)

def test_bundled_baselines_validate_against_the_real_registry():
    assert len(load_baselines(vocab=registry_vocabulary())) == len(_reference_rows())


def test_every_reference_number_is_reachable_with_its_provenance():
    loaded = {(b.model, b.benchmark, b.split, b.metric, b.protocol): b for b in load_baselines(vocab=VOCAB)}
    missing = []
    for i, row in enumerate(_reference_rows(), start=2):
        m = map_reference_row(row, f"reference:{i}")
        b = loaded.get((m["model"], m["benchmark"], m["split"], m["metric"], m["protocol"]))
        if b is None or (b.value_text, b.reported_by, b.self_reported, b.source_url, b.source_date, b.size) != (
            row["value"], row["reported_by"], row["self_reported"], row["source_url"], row["source_date"], row["size"]
        ):
            missing.append((i, row["model"], row["benchmark"]))
    assert missing == []


def test_baselines_dir_is_the_source_checkout_here():
    assert baselines_dir() == REPO / "leaderboards" / "baselines"


def test_protocol_text_is_kept_verbatim():
    row = _reference_rows()[0]
    assert load_protocols()["sophia"].description == row["protocol"]


@pytest.fixture
def bad_dir(tmp_path: Path):
    """A baselines directory with the real protocols and one row to break."""
    shutil.copy(baselines_dir() / "protocols.yaml", tmp_path / "protocols.yaml")
    good = {
        "model": "M", "size": "8B", "benchmark": "mathvision", "split": "test", "metric": "pass@1",
        "value": "40.5", "protocol": "sophia", "reported_by": "paper", "self_reported": "no",
        "source_url": "https://arxiv.org/abs/0000.00000", "source_date": "2025-01-01", "reported_as": "", "note": "",
    }

    def write(**changes: str) -> Path:
        path = tmp_path / "src.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            w.writeheader()
            w.writerow(good)
            w.writerow({**good, "model": "N", **changes})
        return path

    return tmp_path, write


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"benchmark": "mathvison"}, "unknown benchmark 'mathvison'"),
        ({"split": "test_full"}, "unknown split 'test_full' of mathvision"),
        ({"metric": "acc"}, "unknown metric 'acc' for mathvision"),
        ({"protocol": "opencompass"}, "unknown protocol 'opencompass'"),
        ({"value": "140"}, "outside \\[0, 100\\]"),
        ({"value": "n/a"}, "not a number"),
        ({"self_reported": "maybe"}, "self_reported 'maybe'"),
        ({"source_date": "Aug 2025"}, "ISO date"),
        ({"source_url": ""}, "column 'source_url' is empty"),
        ({"model": "M"}, "duplicates .*src.csv:2"),
    ],
)
def test_bad_row_is_an_error_naming_file_and_line(bad_dir, change, message):
    directory, write = bad_dir
    path = write(**change)
    with pytest.raises(BaselineError, match=f"{path}:3: .*{message}"):
        load_baselines(directory, vocab=VOCAB)


def test_worst_case_metric_is_allowed_only_where_the_benchmark_defines_it(bad_dir):
    directory, write = bad_dir
    write(metric="worst_case")
    with pytest.raises(BaselineError, match="unknown metric 'worst_case' for mathvision"):
        load_baselines(directory, vocab=VOCAB)


def test_missing_column_is_an_error_naming_the_file(tmp_path):
    shutil.copy(baselines_dir() / "protocols.yaml", tmp_path / "protocols.yaml")
    (tmp_path / "x.csv").write_text("model,value\nM,40\n", encoding="utf-8")
    with pytest.raises(BaselineError, match=r"x.csv: header must have columns .*missing \['benchmark'"):
        load_baselines(tmp_path, vocab=VOCAB)


def test_missing_protocols_file_is_an_error(tmp_path):
    with pytest.raises(BaselineError, match="protocols.yaml: missing"):
        load_baselines(tmp_path, vocab=VOCAB)


def test_unknown_key_in_protocols_is_an_error(tmp_path):
    (tmp_path / "protocols.yaml").write_text("p:\n  title: t\n  description: d\n  decodng: {}\n", encoding="utf-8")
    with pytest.raises(BaselineError, match=r"protocol 'p': unknown key\(s\) \['decodng'\]"):
        load_protocols(tmp_path)


def test_reference_name_without_mapping_is_an_error_saying_where_to_add_it():
    row = dict(_reference_rows()[0], benchmark="ChartQA")
    with pytest.raises(BaselineError, match="'ChartQA' has no registry mapping; add it to REFERENCE_NAMES"):
        map_reference_row(row, "ref.csv:2")


def test_installed_wheel_copy_is_preferred(tmp_path):
    bundled = tmp_path / "site" / "sophia_eval" / "_bundled" / "baselines"
    bundled.mkdir(parents=True)
    (bundled / "protocols.yaml").write_text("x: {title: t, description: d}\n", encoding="utf-8")
    assert baselines_dir(tmp_path / "site" / "sophia_eval") == bundled


def test_no_baselines_anywhere_says_how_to_fix(tmp_path):
    with pytest.raises(BaselineError, match="reinstall sophia-eval or pass a baselines directory"):
        baselines_dir(tmp_path / "pkg")
