"""Outcome reward for RL (SOPHIA, GRPO): a thin batch wrapper over `sophia_eval.verify`.

Shape used by RL libraries (e.g. TRL's GRPOTrainer reward functions): called with the batch of
completions, the gold answers and any other dataset columns as keyword lists; returns one float per
completion (1.0 correct, 0.0 wrong or no answer) or None when the item cannot be verified
(bad gold, timeout, error) so the trainer can skip it. Every status is counted in `.counts`.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Sequence

from sophia_eval.verify import VerifierPool, verify
from sophia_eval.verify.extract import ExtractionPolicy

_META_KEYS = ("options", "answer_type", "tolerance", "rel_tolerance", "precision", "unit", "multiple")
_UNVERIFIABLE = ("bad_gold", "timeout", "error")


def _text(completion: Any) -> str:
    """A completion as text: a string, or chat messages (the assistant turns' content joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _text(completion.get("content", ""))
    if isinstance(completion, (list, tuple)):
        parts = []
        for m in completion:
            if isinstance(m, dict) and m.get("role", "assistant") != "assistant":
                continue
            c = m.get("content", "") if isinstance(m, dict) else m
            if isinstance(c, list):  # multimodal content parts
                c = "".join(p.get("text", "") for p in c if isinstance(p, dict))
            parts.append(str(c))
        return "\n".join(parts)
    return str(completion)


class OutcomeReward:
    """`reward(completions, answer, **columns) -> list[float | None]`; picklable, thread-safe.

    `workers=0` checks in the calling process (sympy parts go to the process-wide warm pool);
    `workers>0` keeps a private pool of that many processes, created lazily in whichever process
    calls it (so a pickled copy in a Ray/multiprocessing worker makes its own).
    """

    __name__ = "outcome_reward"  # TRL logs reward functions by __name__

    def __init__(self, policy: "ExtractionPolicy | str | None" = None, workers: int = 0,
                 timeout: float = 2.0) -> None:
        if workers < 0:
            raise ValueError(f"OutcomeReward workers must be >= 0 (0 = in-process), got {workers}")
        if not 0 < timeout <= 600:
            raise ValueError(f"OutcomeReward timeout must be in (0, 600] seconds, got {timeout}")
        self.policy = policy
        self.workers = workers
        self.timeout = timeout
        self.counts: Counter[str] = Counter()
        """Verdict statuses seen so far; unverifiable ones (bad_gold, timeout, error) give None."""
        self._lock = threading.Lock()
        self._pool: VerifierPool | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lock"] = None
        state["_pool"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __call__(self, completions: Sequence[Any], answer: Sequence[str] | None = None,
                 **columns: Any) -> list[float | None]:
        if answer is None:
            raise TypeError("OutcomeReward needs the gold answers: pass `answer=` (the dataset's answer column)")
        if len(answer) != len(completions):
            raise ValueError(f"OutcomeReward got {len(completions)} completions but {len(answer)} answers")
        items = []
        for i, (comp, gold) in enumerate(zip(completions, answer)):
            item: dict[str, Any] = {"gold": str(gold), "pred": _text(comp), "timeout": self.timeout}
            if self.policy is not None:
                item["policy"] = self.policy
            for key in _META_KEYS:
                col = columns.get(key)
                if col is not None and i < len(col) and col[i] is not None:
                    item[key] = col[i]
            items.append(item)
        if self.workers > 0:
            with self._lock:
                if self._pool is None:
                    self._pool = VerifierPool(workers=self.workers, timeout=self.timeout)
            verdicts = self._pool.verify_many(items)
        else:
            verdicts = [verify(**it) for it in items]
        with self._lock:
            self.counts.update(v.status for v in verdicts)
        return [None if v.status in _UNVERIFIABLE else float(v.correct) for v in verdicts]

    def close(self) -> None:
        """Stop the private pool, if any."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
