"""`sophia-eval leaderboard` and `sophia-eval compare` through the real CLI app."""

from __future__ import annotations

import json

import pytest

from typer.testing import CliRunner

from sophia_eval.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    # `leaderboard` without run arguments reads ./runs; keep the checkout's own runs out of tests.
    monkeypatch.chdir(tmp_path)


def _outcomes(k, n):
    return {str(i): [i < k] for i in range(n)}


def test_leaderboard_writes_markdown_csv_and_html(make_run, tmp_path):
    make_run("base", model="tiny-base", outcomes=_outcomes(3, 10))
    out = tmp_path / "gen"
    result = runner.invoke(app, ["leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["leaderboard.csv", "leaderboard.html", "leaderboard.md"]
    assert "tiny-base (run, sophia)" in result.output


def test_leaderboard_rejects_a_malformed_pair(tmp_path):
    result = runner.invoke(app, ["leaderboard", "--pair", "nobase", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "expected BASE=CHECKPOINT" in result.output


def test_leaderboard_names_a_missing_run_directory(tmp_path):
    result = runner.invoke(app, ["leaderboard", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no such run directory" in result.output


def test_compare_prints_delta_p_value_and_flips(make_run, tmp_path):
    a = make_run("a", model="base", outcomes=_outcomes(2, 8))
    b = make_run("b", model="ckpt", outcomes=_outcomes(7, 8))
    result = runner.invoke(app, ["compare", str(a), str(b), "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    # 5 items fixed, none broken: p = 2 / 2**5
    data = json.loads((tmp_path / "c.json").read_text())[0]["benchmarks"][0]
    assert (data["delta"], data["p_value"], len(data["flips"])) == (62.5, 0.0625, 5)
    assert "+62.50" in result.output and "0.0625" in result.output and "5 item(s) wrong in A, right in B" in result.output


def test_compare_refuses_different_protocols_unless_forced(make_run):
    a = make_run("a", model="base", outcomes=_outcomes(2, 8))
    b = make_run("b", model="ckpt", preset="greedy",
                 generation={"n": 1, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 16384, "seed": 0},
                 outcomes=_outcomes(7, 8))
    refused = runner.invoke(app, ["compare", str(a), str(b)])
    forced = runner.invoke(app, ["compare", str(a), str(b), "--force"])
    assert refused.exit_code == 2 and "different protocols" in refused.output
    assert forced.exit_code == 0 and "FORCED" in forced.output


def test_leaderboard_reports_an_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = runner.invoke(app, ["leaderboard", "--out", str(blocker / "sub")])
    assert result.exit_code == 2 and "cannot write the leaderboard files" in result.output


def test_compare_writes_a_markdown_report(make_run, tmp_path):
    a = make_run("a", model="base", outcomes=_outcomes(2, 8))
    b = make_run("b", model="ckpt", outcomes=_outcomes(3, 8))
    result = runner.invoke(app, ["compare", str(a), str(b), "--markdown", str(tmp_path / "c.md")])
    text = (tmp_path / "c.md").read_text()
    assert result.exit_code == 0 and "| mathvision:test | 8 | 25.00 | 37.50 | +12.50 |" in text
    # The title says which run is A (the reference, the first path) and which is B.
    assert text.startswith(f"# B: {b} vs A: {a}\n\nΔ = B - A")
    assert "- `2`: gold `gold-2`; A `ans-2-0` (0.00) -> B `ans-2-1` (1.00)" in text


def test_leaderboard_reads_runs_from_the_current_directory_by_default(make_run, tmp_path):
    make_run("r", model="tiny-default", outcomes=_outcomes(1, 4))  # written under tmp_path/runs
    result = runner.invoke(app, ["leaderboard", "--out", str(tmp_path / "gen")])
    assert result.exit_code == 0 and "1 run(s), 416 published numbers" in result.output


def test_leaderboard_warns_about_a_pair_it_cannot_chart(make_run, tmp_path):
    make_run("r", model="tiny-base", outcomes=_outcomes(1, 4))
    result = runner.invoke(app, ["leaderboard", "--pair", "tiny-base=missing", "--out", str(tmp_path / "gen")])
    assert result.exit_code == 0 and "--pair tiny-base=missing: no protocol has both models" in result.output
