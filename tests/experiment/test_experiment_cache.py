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
