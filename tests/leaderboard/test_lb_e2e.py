"""End to end: real harness runs of a tiny model on real MATH-500 items, then leaderboard and compare."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sophia_eval.cli import app


@pytest.mark.slow
def test_harness_runs_to_leaderboard_and_compare(tiny_text_model, tmp_path, monkeypatch):
    import torch

    from sophia_eval.harness import runner as harness
    from sophia_eval.harness.protocols import get_protocol

    from sophia_eval.backends import make_generator

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    generator = make_generator("transformers", str(tiny_text_model))  # one model load for three runs
    for name, max_new in (("a", 8), ("b", 8), ("c", 12)):
        harness.run(harness.RunConfig(benchmark="math500", model=str(tiny_text_model), limit=3,
                                      protocol=get_protocol("greedy", max_new_tokens=max_new),
                                      out=str(tmp_path / "runs" / name)), generator=generator, progress=False)
    runner = CliRunner()
    board = runner.invoke(app, ["leaderboard", "--out", str(tmp_path / "gen")])
    assert board.exit_code == 0, board.output
    csv_text = (tmp_path / "gen" / "leaderboard.csv").read_text()
    assert csv_text.count(",run,") == 3 and "max_new_tokens 12 (differs between runs here)" in csv_text

    same = runner.invoke(app, ["compare", "runs/a", "runs/b", "--json", "cmp.json"])
    assert same.exit_code == 0, same.output
    result = json.loads((tmp_path / "cmp.json").read_text())[0]["benchmarks"][0]
    # Same greedy config and seed: identical outputs, so no difference and nothing flipped.
    assert (result["n_items"], result["delta"], result["p_value"], result["flips"]) == (3, 0.0, 1.0, [])
    assert runner.invoke(app, ["compare", "runs/a", "runs/c"]).exit_code == 2
