"""Extraction policies are data: named, frozen, validated, picklable."""

from __future__ import annotations

import pickle

import pytest

from sophia_eval.verify import ExtractionPolicy, extract_answer, get_policy
from sophia_eval.verify.extract import extract_candidates, find_boxed


def test_known_policies_exist() -> None:
    assert {get_policy(n).name for n in ("default", "choice", "lenient", "strict")} == {"default", "choice", "lenient", "strict"}


def test_unknown_policy_lists_known_names() -> None:
    with pytest.raises(KeyError, match="lenient"):
        get_policy("nope")


def test_policy_object_passes_through() -> None:
    p = ExtractionPolicy(name="mine", last_number=True)
    assert get_policy(p) is p


def test_bad_phrase_regex_is_rejected_with_the_policy_name() -> None:
    with pytest.raises(ValueError, match="mine"):
        ExtractionPolicy(name="mine", phrases=("(",))


def test_policy_pickles() -> None:
    p = ExtractionPolicy(name="mine", phrases=("result:",))
    q = pickle.loads(pickle.dumps(p))
    assert extract_answer("the result: 42", q) == "42"


def test_custom_phrase() -> None:
    assert extract_answer("Result => 9", ExtractionPolicy(name="arrow", phrases=(r"result\s*=>",))) == "9"


def test_last_box_wins_for_extract_answer() -> None:
    assert extract_answer("\\boxed{1} then \\boxed{2}") == "2"


def test_all_boxes_are_candidates() -> None:
    assert extract_candidates("\\boxed{1} then \\boxed{2}") == ["1", "2"]


def test_nested_boxes_count_once() -> None:
    assert find_boxed("\\boxed{\\boxed{3}}") == ["\\boxed{3}"]


def test_think_disabled_keeps_boxes_inside_think() -> None:
    p = ExtractionPolicy(name="nothink", strip_think=False)
    assert extract_answer("<think>\\boxed{4}", p) == "4"


def test_non_string_response_gives_none() -> None:
    assert extract_answer(None) is None  # type: ignore[arg-type]
