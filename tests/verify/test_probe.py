"""The float probe may only say "different" for expressions that really differ."""

from __future__ import annotations

import pytest

from sophia_eval.verify.probe import clearly_different

EQUAL = [("x^2-1", "(x-1)(x+1)"), ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"), ("2^{n+1}", "2 \\cdot 2^{n}"),
         ("\\frac12", "1/2"), ("\\sqrt{12}", "2\\sqrt{3}"), ("\\frac{1}{2n+2}", "\\frac{1}{2(n+1)}"),
         ("-x^2", "-(x^2)"), ("a_1+a_2", "a_2+a_1"), ("e^{2}", "e^2"), ("\\pi r^2", "r^2\\pi")]
DIFFERENT = [("x^2-1", "x^2+1"), ("\\frac{14}{3}", "\\frac{14}{3}+1"), ("2^{n+1}", "2^{n}+1"), ("\\pi", "3"),
             ("a/b", "\\frac{b}{a}"), ("-x^2", "x^2")]
UNDECIDED = [("x/2y", "\\frac{x}{2y}"), ("a/bc", "\\frac{a}{bc}"), ("2^{1009}", "2^{1009}+1"), ("0.5", "1"),
             ("\\sin x", "x"), ("x", "X"), ("2 3", "6"), ("i^2", "-1"), ("x=1", "x=2"), ("5!", "120")]


@pytest.mark.parametrize("a, b", EQUAL)
def test_equal_expressions_are_never_called_different(a: str, b: str) -> None:
    assert clearly_different(a, b) is False


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_differing_expressions_are_caught_without_sympy(a: str, b: str) -> None:
    assert clearly_different(a, b) is True


@pytest.mark.parametrize("a, b", UNDECIDED)
def test_outside_the_subset_defers_to_sympy(a: str, b: str) -> None:
    assert clearly_different(a, b) is False
