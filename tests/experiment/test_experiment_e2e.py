"""The whole shapes experiment at the `tiny` scale: every stage runs on small real models (a tiny
random reasoner stands in for SmolLM2) and writes what the next stage and the report need. It
checks the pipeline's outputs, not the effect (random models answer nothing right)."""

from __future__ import annotations

import json

import pytest

import shapes_path  # noqa: F401


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_every_stage_runs_and_writes_its_outputs(tmp_path):
    from shapes import run

    work = tmp_path / "work"
    run.main(["--work", str(work), "--scale", "tiny", "--threads", "1"])

    data = work / "data" / "shapes"
    for split in ("warmup", "train", "eval", "eval_shuffled"):
        assert (data / f"{split}.jsonl").exists()
    assert (work / "reasoner" / "final" / "sophia_train.json").exists()
    policy_cfg = json.loads((work / "policy" / "final" / "sophia_train.json").read_text())["config"]
    assert policy_cfg["freeze_vision"] is False  # the warm-up trains the from-scratch tower
    assert (work / "sample" / "sampling" / "trajectories.jsonl").exists()
    gt = [json.loads(x) for x in (work / "sample" / "sampling_gt" / "trajectories.jsonl").read_text().splitlines()]
    assert gt and all(t["caption_index"] == 0 for t in gt)

    selections = json.loads((work / "select" / "done.json").read_text())["summaries"]
    assert set(selections) == {f"{v}-s{s}" for v in ("sophia", "no_caption_reward", "random", "offpolicy") for s in (0, 1)}
    # `random` keeps one trajectory per question whatever the rewards, so it always trains.
    assert selections["random-s0"]["n_selected"] == selections["random-s0"]["n_items"] == 12

    result = json.loads((work / "report" / "results.json").read_text())
    table = result["table"]
    assert {"base", "random-s0", "random-s1"} <= set(table)
    for name in table:
        for protocol in ("greedy", "sampled"):
            assert 0 <= table[name][protocol]["b"] <= 100
    assert table["random-s0"]["greedy"]["n_items"] == 24
    assert result["two_stage"]["n"] == 24 and "base" in result["shuffled_images_greedy"]
    assert "| base |" in (work / "report" / "results.md").read_text()
    assert (work / "report" / "plot.svg").read_text().startswith("<svg")
    assert "shapes" in (work / "report" / "leaderboard" / "leaderboard.md").read_text()
    times = json.loads((work / "times.json").read_text())
    assert {"data", "reasoner", "policy", "sample", "select", "update", "evaluate", "controls", "report"} <= set(times)

    # A second run finds every stage cached and changes nothing.
    before = (work / "report" / "results.json").read_text()
    run.main(["--work", str(work), "--scale", "tiny", "--threads", "1", "--stages", "data,models,sample,select,update"])
    assert (work / "report" / "results.json").read_text() == before
