"""`sophia-eval list` and `sophia-eval validate`."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from sophia_eval.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
runner = CliRunner()


def test_list_shows_every_benchmark_with_counts():
    res = runner.invoke(app, ["list"])
    assert res.exit_code == 0 and all(n in res.output for n in ("mathvision", "3040", "olympiadbench", "wemath", "dynamath"))


def test_validate_passes_on_a_clean_real_benchmark():
    res = runner.invoke(app, ["validate", "aime24:test"])
    assert res.exit_code == 0 and "30 items" in res.output


def test_validate_named_benchmark_without_data_fails():
    res = runner.invoke(app, ["validate", "dynamath"])
    assert res.exit_code == 1 and "no local data" in res.output


def test_validate_fixture_data_dir_reports_the_count_mismatch():
    res = runner.invoke(app, ["validate", "wemath", "--data-dir", str(FIXTURES / "wemath")])
    assert res.exit_code == 1 and "expects 1740" in res.output


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    return buf.getvalue()


def test_validate_reports_unparseable_gold_with_location_and_fails(toy, tmp_path):
    rows = ('{"id": "a", "question": "q", "answer": "2", "image": "a.png"}\n'
            '{"id": "b", "question": "q", "answer": "\\\\frac{1}{", "image": "a.png"}\n')
    _, root = toy({"data.jsonl": rows, "a.png": _png()})
    report = tmp_path / "bad.jsonl"
    res = runner.invoke(app, ["validate", "toy", "--data-dir", str(root), "--report", str(report)])
    bad = [json.loads(line) for line in report.read_text().splitlines()]
    assert res.exit_code == 1 and "data.jsonl:2 id=b" in res.output.replace("\n", "") and [b["id"] for b in bad] == ["b"]


def test_validate_missing_data_root_is_a_clear_error(tmp_path):
    res = runner.invoke(app, ["validate", "--data-dir", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "SOPHIA_EVAL_DATA" in res.output
