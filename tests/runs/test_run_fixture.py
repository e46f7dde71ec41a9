"""A run written before the package layout change (tests/fixtures/run_v1) still loads, re-scores to
the same verdicts and appears on a leaderboard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sophia_eval.board.baselines import load_baselines, load_protocols, registry_vocabulary
from sophia_eval.board.leaderboard import build_leaderboard
from sophia_eval.board.output import to_markdown
from sophia_eval.harness.runner import rescore
from sophia_eval.runs import RunStore, load_runs

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_v1" / "mathvision__fixture-letters"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / FIXTURE.name))


def test_stored_run_loads(run_dir):
    store = RunStore.open(run_dir)
    assert store.meta["status"] == "complete"
    assert len(list(store.records())) == 12
    (info,), skipped = load_runs([run_dir])
    assert skipped == []
    assert (info.benchmark, info.split, info.model) == ("mathvision", "testmini", "fixture-letters")


def test_stored_run_rescores_to_the_same_verdicts(run_dir):
    before = {(r["item_id"], r["sample_index"]): r["status"] for r in RunStore.open(run_dir).records()}
    stored_summary = json.loads((FIXTURE / "run.json").read_text())["summary"]
    summary = rescore(run_dir, workers=1, progress=False)
    after = {(r["item_id"], r["sample_index"]): r["status"] for r in RunStore.open(run_dir).records()}
    assert after == before
    assert summary["metrics"] == stored_summary["metrics"]


def test_stored_run_appears_on_a_leaderboard(run_dir):
    vocab = registry_vocabulary()
    runs, skipped = load_runs([run_dir])
    board = build_leaderboard(runs, load_baselines(vocab=vocab), load_protocols(), vocab, skipped=skipped)
    assert "fixture-letters" in to_markdown(board)
