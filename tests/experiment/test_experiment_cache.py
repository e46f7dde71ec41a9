"""Stage cache keys: a stage's key moves with its own settings and the earlier stages' settings,
never with a later stage's (so retuning the update reuses the sampled rollouts)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import shapes_path  # noqa: F401


@pytest.mark.parametrize("change,moved", [
    ({"update_steps": 7}, {"update", "evaluate", "controls"}),
    ({"eval_tokens": 9}, {"evaluate", "controls"}),
    ({"num_reasonings": 3}, {"sample", "select", "update", "evaluate", "controls"}),
    ({"policy_steps": 5}, {"sample", "select", "update", "evaluate", "controls"}),
])
def test_a_setting_moves_only_its_own_and_later_stage_keys(tmp_path, change, moved):
    from shapes import stages
    from shapes.run import SCALES, Experiment

    fields = {"sample": stages._SAMPLE, "select": stages._SELECT, "update": stages._UPDATE,
              "evaluate": stages._EVALUATE, "controls": stages._CONTROLS}
    a = Experiment(tmp_path, SCALES["full"], 1)
    b = Experiment(tmp_path, replace(SCALES["full"], **change), 1)
    assert {st for st, f in fields.items() if a.key(st, f) != b.key(st, f)} == moved


def _stage_dirs(work, stages):
    for st in stages:
        (work / st).mkdir(parents=True, exist_ok=True)
        (work / st / "out.txt").write_text("x")


def test_a_stage_rerun_with_new_settings_clears_its_own_and_every_later_stage_output(tmp_path):
    from shapes.run import SCALES, Experiment

    exp = Experiment(tmp_path, SCALES["full"], 1)
    stages = ["data", "reasoner", "policy", "models/policy-base", "sample", "select", "update", "evaluate", "controls"]
    _stage_dirs(tmp_path, stages)
    (tmp_path / "update" / "done.json").write_text('{"key": "old"}')
    (tmp_path / "sample" / "done.json").write_text('{"key": "same"}')
    assert exp.done("sample", "same") == {"key": "same"}  # finished with these settings: nothing cleared
    assert all((tmp_path / st / "out.txt").exists() for st in stages)
    assert exp.done("update", "new") is None
    assert sorted(st for st in stages if (tmp_path / st).exists()) == sorted(stages[:6])


def test_an_interrupted_stage_keeps_its_outputs_to_resume_and_the_policy_base_goes_with_its_stage(tmp_path):
    from shapes.run import SCALES, Experiment

    exp = Experiment(tmp_path, SCALES["full"], 1)
    _stage_dirs(tmp_path, ["reasoner", "policy", "models/policy-base", "models/reasoner-base", "sample"])
    assert exp.done("reasoner", "k") is None  # no done.json: interrupted, resumes
    assert [(tmp_path / st).exists() for st in ("reasoner", "policy", "sample")] == [True, True, False]
    (tmp_path / "policy" / "done.json").write_text('{"key": "old"}')
    assert exp.done("policy", "new") is None
    assert [(tmp_path / st).exists() for st in ("policy", "models/policy-base", "models/reasoner-base", "reasoner")] == [
        False, False, True, True]
