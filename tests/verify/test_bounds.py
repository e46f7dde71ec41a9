"""Megabyte inputs and refused expressions end quickly with a status (bounds before sympy)."""

from __future__ import annotations

import time

import pytest

from sophia_eval.verify import extract_answer, verify
from sophia_eval.verify.guard import check_bounds

MB = 1_000_000


def _timed(**kw: str) -> tuple[str, float]:
    start = time.perf_counter()
    v = verify(**kw)
    return v.status, time.perf_counter() - start


@pytest.mark.parametrize(
    "pred, expected",
    [
        ("lorem ipsum " * (MB // 12), "no_answer"),
        ("\\boxed{" + "1" * MB + "}", "no_answer"),  # only the tail is searched: the box opening is cut
        ("\\boxed{" + "1" * (MB // 8) + "}", "incorrect"),
        ("\\boxed{" * (MB // 7), "no_answer"),
        ("{" * MB, "no_answer"),
        ("x" * MB + " The answer is \\boxed{5}", "correct"),
        ("\\boxed{5}" * (MB // 9), "correct"),
        ("(" * MB, "no_answer"),
    ],
    ids=["prose", "cut-box", "huge-literal-box", "unclosed-boxes", "braces", "answer-at-end", "many-boxes", "parens"],
)
def test_megabyte_response_ends_fast_with_a_status(pred: str, expected: str) -> None:
    status, seconds = _timed(gold="5", pred=pred)
    assert (status, seconds < 2.0) == (expected, True)


def test_megabyte_gold_is_bad_gold() -> None:
    assert verify(gold="1" * MB, pred="\\boxed{1}").status == "bad_gold"


def test_extraction_of_a_megabyte_is_linear_time() -> None:
    start = time.perf_counter()
    extract_answer("a" * MB + "\\boxed{5}")
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    "expr",
    ["10^{10^{10^{10}}}", "1000!!", "9^{9^{9}}", "2**10**10", "10^{100000}", "x^{10000000}",
     "(10^{10})!", "1" * 400, "(" * 40 + "x" + ")" * 40, "2^{2^{2^{2}}}", "3\\uparrow\\uparrow 4"],
)
def test_bounds_refuse_before_sympy(expr: str) -> None:
    assert check_bounds(expr) is not None


@pytest.mark.parametrize("expr", ["2^{10}", "2^{1009}", "e^{x^2}", "x^{2}+1", "5!", "\\frac{100!}{2^{50}}", "2^{2^{10}}"])
def test_bounds_allow_ordinary_answers(expr: str) -> None:
    assert check_bounds(expr) is None


@pytest.mark.parametrize(
    "answer",
    ["A" + " A" * 3000 + "!", "A" + " , A" * 3000 + "!", "1 " * 5000 + "x", "\\text{ " * 3000,
     "x^" * 3000, "\\frac{" * 3000, "1," * 5000 + "x", "= " * 3000, "\\pm " * 3000, "(1,2)," * 2000,
     "a or " * 3000 + "!", "\\begin{pmatrix}" + "1&" * 3000, "B. " * 3000,
     "1" + " ," * 990 + " x", "1" + "; " * 990 + "x", "n=" + "1, " * 600 + "x", "x " + "for " * 490 + "x",
     "a" + " :" * 990, "\\text{, " * 300 + "a"],
    ids=lambda s: repr(s[:12]),
)
def test_pathological_answers_stay_fast(answer: str) -> None:
    """Regex backtracking or quadratic scans in the pure-Python path would blow this budget."""
    verify(gold="1", pred="\\boxed{1}")  # default pool already warm: timing covers only the check
    for kw in ({}, {"options": ["1", "2", "3"]}, {"multiple": True}):
        for text in (answer, answer[:1900] + "!", answer[:500] + "!"):  # under the length cap too
            start = time.perf_counter()
            v = verify(gold="A" if "options" in kw else "1", pred="\\boxed{" + text + "}", timeout=1.0, **kw)
            assert (v.status, time.perf_counter() - start < 1.0 + 1.5) in {
                ("incorrect", True), ("no_answer", True), ("timeout", True)}
