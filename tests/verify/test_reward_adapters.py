"""The reward adapters against their frameworks' documented call shapes: TRL, verl; None for missing data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from sophia_eval.reward import OutcomeReward
from sophia_eval.reward_verl import compute_score, compute_score_batch

ROOT = Path(__file__).resolve().parents[2]


# -- TRL: reward_func(prompts=, completions=, completion_ids=, <dataset columns>, trainer_state=, log_metric=, ...)
def test_trl_solution_column_is_the_gold() -> None:
    assert OutcomeReward()(completions=["\\boxed{3}", "\\boxed{4}"], solution=["3", "3"]) == [1.0, 0.0]


def test_gold_column_names_another_column() -> None:
    r = OutcomeReward(gold_column="final")
    assert r(["\\boxed{3}"], final=["3"], answer=["not this"]) == [1.0]


def test_named_gold_column_missing_says_which() -> None:
    with pytest.raises(TypeError, match="gold_column='final'.*columns passed: \\['answer'\\]"):
        OutcomeReward(gold_column="final")(["x"], answer=["1"])


def test_no_gold_column_error_names_both_options() -> None:
    with pytest.raises(TypeError, match="answer=` or `solution="):
        OutcomeReward()(["x"], prompts=["q"])


def test_status_fractions_go_to_log_metric() -> None:
    logged: list[tuple[str, float]] = []
    OutcomeReward()(completions=[[{"role": "assistant", "content": "\\boxed{3}"}], "\\boxed{9}", "x", "y"],
                    prompts=["q"] * 4, completion_ids=[[1]] * 4, answer=["3", "3", None, "\x0c"],
                    trainer_state=object(), log_metric=lambda name, value: logged.append((name, value)))
    got = {k: v for k, v in logged if v}
    assert got == {"outcome_reward/correct": 0.25, "outcome_reward/incorrect": 0.25, "outcome_reward/bad_gold": 0.5}


def test_missing_gold_is_none_never_the_string_none() -> None:
    r = OutcomeReward()
    assert (r(["\\boxed{None}", "\\boxed{1}"], answer=[None, float("nan")]), r.counts["bad_gold"]) == ([None, None], 2)


def test_missing_completion_is_none() -> None:
    r = OutcomeReward()
    assert (r([None], answer=["1"]), dict(r.counts)) == ([None], {"error": 1})


def test_numeric_and_list_golds_are_text() -> None:
    assert OutcomeReward()(["\\boxed{4}", "\\boxed{2, 3}"], answer=[4, ["2", "3"]]) == [1.0, 1.0]


# -- verl: compute_score(data_source=, solution_str=, ground_truth=, extra_info=) -> float | {"score": ...}
def test_verl_keyword_call_returns_score_and_status() -> None:
    out = compute_score(data_source="mathvista", solution_str="<answer>\\frac{1}{2}</answer>",
                        ground_truth="0.5", extra_info={"index": 3, "split": "train"})
    assert out == {"score": 1.0, "status": "correct"}


def test_verl_metadata_comes_from_extra_info() -> None:
    out = compute_score(data_source="x", solution_str="so \\boxed{3.14}", ground_truth="3.14159",
                        extra_info={"tolerance": 0.01, "num_turns": 1})
    assert out["score"] == 1.0


def test_verl_ground_truth_mapping_with_options() -> None:
    out = compute_score("x", "The answer is \\boxed{2}", {"answer": "B", "options": ["1", "2", "3"]})
    assert out == {"score": 1.0, "status": "correct"}


def test_verl_unverifiable_scores_the_reward_kwarg() -> None:
    out = compute_score("x", "\\boxed{1}", None, None, unverifiable_score=-1.0)
    assert out == {"score": -1.0, "status": "bad_gold"}


def test_verl_batch_shape_keeps_order() -> None:
    out = compute_score_batch(data_sources=["a"] * 3, solution_strs=["\\boxed{1}", "\\boxed{5}", "\\boxed{x^2-1}"],
                              ground_truths=["1", "2", "(x-1)(x+1)"], extra_infos=[None, {}, {"index": 0}],
                              timeout=30)
    assert [o["status"] for o in out] == ["correct", "incorrect", "correct"]


def test_verl_batch_length_mismatch_says_counts() -> None:
    with pytest.raises(ValueError, match="2 solution_strs, 1 ground_truths"):
        compute_score_batch(["a", "a"], ["1", "2"], ["1"], None)


def test_verl_loads_the_function_by_file_path_like_verl_does() -> None:
    path = ROOT / "sophia_eval" / "reward_verl.py"
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["custom_module"] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        fn = getattr(module, "compute_score")
        assert fn(data_source="d", solution_str="\\boxed{7}", ground_truth="7", extra_info=None)["score"] == 1.0
    finally:
        del sys.modules["custom_module"]
