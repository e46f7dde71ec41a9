"""`validate` on a loaded machine: a gold check that times out is retried with a larger budget and,
if it still times out, reported as a timeout, never counted as an unparseable gold."""

from __future__ import annotations

from dataclasses import dataclass

from sophia_eval.cli.bench_cmd import GOLD_RETRY_BUDGETS, check_golds


@dataclass
class _Sample:
    id: str
    answer: str

    def verify_kwargs(self) -> dict:
        return {}


def _fake_check(slow_until: float):
    """A check_gold stand-in: times out below `slow_until` seconds, 'bad' golds are unparseable."""
    calls: list[tuple[str, float]] = []

    def check(*, gold: str, timeout: float = 2.0, **_: object) -> str | None:
        calls.append((gold, timeout))
        if gold == "bad":
            return "gold element 'bad': could not parse"
        if timeout < slow_until:
            return f"gold could not be checked: timeout (check exceeded its {timeout:g} s budget)"
        return None

    return check, calls


def test_timeout_is_retried_with_a_larger_budget_and_then_passes() -> None:
    check, calls = _fake_check(slow_until=GOLD_RETRY_BUDGETS[0])
    bad, slow = check_golds([_Sample("1", "x^2")], check=check)
    assert (bad, slow) == ([], [])
    assert calls == [("x^2", 2.0), ("x^2", GOLD_RETRY_BUDGETS[0])]


def test_a_check_that_always_times_out_is_a_timeout_not_unparseable() -> None:
    check, calls = _fake_check(slow_until=float("inf"))
    bad, slow = check_golds([_Sample("1", "x^2")], check=check)
    assert bad == [] and [s.id for s, _ in slow] == ["1"]
    assert [t for _, t in calls] == [2.0, *GOLD_RETRY_BUDGETS]


def test_an_unparseable_gold_is_not_retried() -> None:
    check, calls = _fake_check(slow_until=0)
    bad, slow = check_golds([_Sample("7", "bad")], check=check)
    assert [s.id for s, _ in bad] == ["7"] and slow == [] and len(calls) == 1
