"""Seeded random garbage: every input gives a status, never an exception or a hang."""

from __future__ import annotations

import random
import time

from sophia_eval.verify import verify
from sophia_eval.verify.types import STATUSES

TOKENS = ["\\frac", "{", "}", "(", ")", "[", "]", "^", "_", "\\sqrt", "\\boxed{", "x", "2", "10", "!", "=",
          ",", "\\pm", "\\cup", "\\infty", "%", "$", "\\text{", "\\\\", "&", "\\begin{pmatrix}",
          "\\end{pmatrix}", "A", "or", " ", "-", "+", "/", ".", "e", "\\pi", "<answer>", "</think>",
          "\\left(", "\\right)", "9", "\\sin", "'", "\x00", "答案是", "**", "\\{", "\\}"]


GOLDS = ["1", "\\frac{1}{2}", "x^2-1", "(1, 2)", "[0, 1)", "B", "2x+4y-6=0", "25\\%", "1, 2, 3", "\\{1,2\\}",
         "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "Yes", "\\sqrt{3}", "30^\\circ", "\\pm 2"]


def _garbage(rng: random.Random) -> str:
    return "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 40)))


def test_random_token_soup_gives_statuses_in_budget() -> None:
    rng = random.Random(20240611)
    verify(gold="1", pred="\\boxed{1}")  # warm the default pool
    worst = 0.0
    for _ in range(150):
        gold = _garbage(rng) if rng.random() < 0.3 else rng.choice(GOLDS)
        pred = _garbage(rng) if rng.random() < 0.7 else "\\boxed{" + _garbage(rng) + "}"
        kw = {"options": ["1", "2", "x"]} if rng.random() < 0.2 else {}
        start = time.perf_counter()
        v = verify(gold=gold, pred=pred, timeout=1.0, **kw)
        worst = max(worst, time.perf_counter() - start)
        assert v.status in STATUSES
    assert worst < 1.0 + 1.5
