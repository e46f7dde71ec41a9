"""Extraction is linear in the response length: adversarial repetitions of every marker the
extractor knows, 1 kB to 1 MB, stay under a fixed bound per call in the main thread, in threads
and inside an asyncio event loop (issue 13).

The bound, EXTRACT_BOUND_S, is far above what linear scanning needs (measured: at most about
0.15 s per 1 MB call on the shared 2-core machine under load 8, see README "Guarantees") and far
below what a quadratic scan needs (the old `<answer>(.*?)</answer>` scan took 17 s on 100 kB, and a
quadratic scan of 1 MB takes minutes). Only the last MAX_RESPONSE_CHARS (200 000) characters
are scanned, so 1 MB costs one slice more than 200 kB.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sophia_eval.verify import verify
from sophia_eval.verify.core import judge
from sophia_eval.verify.compare import NeedsSymbolic
from sophia_eval.verify.extract import _DEFAULT_PHRASES, MAX_RESPONSE_CHARS, extract_candidates
from sophia_eval.verify.types import make_request

EXTRACT_BOUND_S = 1.0
"""Seconds per call (extraction, or the whole in-thread verdict) at any size up to 1 MB."""

# every marker the extractor reacts to; the phrases in the literal form a model writes them
MARKERS = (
    "<answer>", "</answer>", "<answer>1", "<ANSWER>", "\\boxed", "\\boxed ", "\\boxed{", "\\fbox{", "\\boxed{1}",
    "\\boxed{\\phantom{x}}", "\\boxed{1} or \\boxed{2}. So ", "{", "}", "\\{", "$", "$$", "\\(", "\\[",
    "<think>", "</think>", "final answer is ", "Final Answer: ", "the answer is ", "my answer would be ",
    "the answer to the question is ", "the correct option is ", "the option letter is ", "answer: ", "答案是",
    "答案为", "最终答案", "答案：", "选项为", "选项是", "(A) ", "Answer: B ", "**B**\n", "B. text\n", "N/A ",
    "1,", "=", "x = 1 = ", "I'm ", "since ",
)
SIZES = (1_000, 10_000, 100_000, pytest.param(1_000_000, marks=pytest.mark.slow))
POLICIES = ("default", "choice", "last_number")


def test_markers_cover_every_default_phrase() -> None:
    import re

    for phrase in _DEFAULT_PHRASES:
        assert any(re.search(phrase, m, re.IGNORECASE) for m in MARKERS), f"no adversarial marker for {phrase!r}"


def _repeat(marker: str, size: int) -> str:
    return (marker * (size // len(marker) + 1))[:size]


def _one_call(text: str) -> float:
    """Worst time of extraction by each policy and of the in-thread verdict (no sympy)."""
    worst = 0.0
    for policy in POLICIES:
        start = time.perf_counter()
        extract_candidates(text, policy)
        worst = max(worst, time.perf_counter() - start)
    for gold, options in (("5", None), ("B", ("1", "2", "3"))):
        start = time.perf_counter()
        try:
            judge(make_request(gold=gold, pred=text, options=options), symbolic=False)
        except NeedsSymbolic:
            pass  # the rest runs in a killable worker under the budget (tests/verify/test_pool.py)
        worst = max(worst, time.perf_counter() - start)
    return worst


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("marker", MARKERS, ids=repr)
def test_main_thread(marker: str, size: int) -> None:
    assert _one_call(_repeat(marker, size)) < EXTRACT_BOUND_S


@pytest.mark.parametrize("size", SIZES)
def test_threads(size: int) -> None:
    texts = [_repeat(m, size) for m in MARKERS]
    with ThreadPoolExecutor(max_workers=4) as ex:
        # four threads share two cores and the GIL: each call may wait for the others' slices
        times = list(ex.map(_one_call, texts))
    slowest = max(zip(times, MARKERS))
    assert slowest[0] < 4 * EXTRACT_BOUND_S, f"{slowest[1]!r} took {slowest[0]:.2f} s"


@pytest.mark.parametrize("size", SIZES)
def test_asyncio(size: int) -> None:
    async def main() -> list[tuple[float, str]]:
        out = []
        for m in MARKERS:  # called on the loop itself: a slow call stalls the loop for its duration
            out.append((_one_call(_repeat(m, size)), m))
            await asyncio.sleep(0)
        return out

    slowest = max(asyncio.run(main()))
    assert slowest[0] < EXTRACT_BOUND_S, f"{slowest[1]!r} took {slowest[0]:.2f} s"


def test_only_the_tail_is_scanned() -> None:
    head = "\\boxed{4}" + "x" * MAX_RESPONSE_CHARS
    assert extract_candidates(head) == []  # the box lies before the scanned tail
    assert verify(gold="4", pred=head + " The answer is \\boxed{4}").status == "correct"
