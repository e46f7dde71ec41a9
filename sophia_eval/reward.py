"""Outcome reward for RL (SOPHIA, GRPO): a thin batch wrapper over `sophia_eval.verify`.

Shape used by RL libraries (e.g. TRL's GRPOTrainer reward functions): called with the batch of
completions, the gold answers and any other dataset columns as keyword lists; returns one float per
completion (1.0 correct, 0.0 wrong or no answer) or None when the item cannot be verified
(missing or bad gold, missing completion, timeout, error) so the trainer can skip it. Every status
is counted in `.counts`. The verl entry point (`reward_verl`) and the reward server
(`reward_server`) go through `score_items` below, the same path.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Any, Callable, Mapping, Sequence

from sophia_eval.verify import Verdict, VerifierPool, verify
from sophia_eval.verify.extract import ExtractionPolicy
from sophia_eval.verify.types import STATUSES
from sophia_eval.verify.vocab import METADATA_KEYS as META_KEYS  # what a reward reads from columns/extra_info
from sophia_eval.verify.vocab import SCORED_STATUSES
GOLD_COLUMNS = ("answer", "solution")
"""Dataset columns read as the gold answer, in this order, when no `gold_column` is named."""


def completion_text(completion: Any) -> str | None:
    """A completion as text: a string, or chat messages (the assistant turns' content joined).

    None for a missing completion (None or NaN)."""
    if completion is None or (isinstance(completion, float) and math.isnan(completion)):
        return None
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return completion_text(completion.get("content", "")) or ""
    if isinstance(completion, (list, tuple)):
        parts = []
        for m in completion:
            if isinstance(m, dict) and m.get("role", "assistant") != "assistant":
                continue
            c = m.get("content", "") if isinstance(m, dict) else m
            if isinstance(c, list):  # multimodal content parts
                c = "".join(p.get("text", "") for p in c if isinstance(p, dict))
            parts.append("" if c is None else str(c))
        return "\n".join(parts)
    return str(completion)


def gold_text(gold: Any) -> str | None:
    """A gold answer as text; None when missing (None, NaN, empty list) - never the string "None"."""
    if gold is None or (isinstance(gold, float) and math.isnan(gold)):
        return None
    if isinstance(gold, (list, tuple)):  # several final answers (OlympiadBench style)
        parts = [g for g in (gold_text(x) for x in gold) if g]
        return ", ".join(parts) if parts else None
    return gold if isinstance(gold, str) else str(gold)


def reward_value(v: Verdict) -> float | None:
    """1.0 correct, 0.0 incorrect or no answer, None when unverifiable."""
    return float(v.correct) if v.status in SCORED_STATUSES else None  # unscored: nothing said about the completion


def score_items(golds: Sequence[Any], completions: Sequence[Any], metas: Sequence[Mapping[str, Any] | None],
                *, policy: "ExtractionPolicy | str | None" = None, timeout: float = 2.0,
                pool: VerifierPool | None = None) -> list[Verdict]:
    """One verdict per (gold, completion, metadata): the one path every reward adapter takes.

    A missing gold is `bad_gold` and a missing completion `error`, without calling the verifier;
    metadata keys outside META_KEYS are ignored (datasets carry other columns). With `pool`, items
    run through `pool.verify_many` (threads + its workers); without, in this thread."""
    verdicts: list[Verdict | None] = []
    items: list[dict[str, Any]] = []
    for gold, comp, meta in zip(golds, completions, metas):
        g, text = gold_text(gold), completion_text(comp)
        if g is None:
            verdicts.append(Verdict("bad_gold", False, reason="gold answer is missing (None)"))
            continue
        if text is None:
            verdicts.append(Verdict("error", False, reason="completion is missing (None)"))
            continue
        item: dict[str, Any] = {"gold": g, "pred": text, "timeout": timeout}
        if policy is not None:
            item["policy"] = policy
        for key in META_KEYS:
            value = (meta or {}).get(key)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                item[key] = value
        verdicts.append(None)
        items.append(item)
    checked = iter(pool.verify_many(items) if pool is not None else [verify(**it) for it in items])
    return [v if v is not None else next(checked) for v in verdicts]


class OutcomeReward:
    """`reward(completions, answer, **columns) -> list[float | None]`; picklable, thread-safe.

    The gold answers come from `answer=` or, for TRL math datasets, `solution=`; name another
    column with `gold_column`. When the trainer passes `log_metric` (TRL does), the fraction of
    each status in the batch is logged as `outcome_reward/<status>`, so rewards that silently
    became None show up in the training logs.

    `workers=0` checks in the calling process (sympy parts go to the process-wide warm pool);
    `workers>0` keeps a private pool of that many processes, created lazily in whichever process
    calls it (so a pickled copy in a Ray/multiprocessing worker makes its own).
    """

    __name__ = "outcome_reward"  # TRL logs reward functions by __name__

    def __init__(self, policy: "ExtractionPolicy | str | None" = None, workers: int = 0,
                 timeout: float = 2.0, gold_column: str | None = None) -> None:
        if workers < 0:
            raise ValueError(f"OutcomeReward workers must be >= 0 (0 = in-process), got {workers}")
        if not 0 < timeout <= 600:
            raise ValueError(f"OutcomeReward timeout must be in (0, 600] seconds, got {timeout}")
        if gold_column is not None and (not isinstance(gold_column, str) or not gold_column):
            raise ValueError(f"OutcomeReward gold_column must be a column name, got {gold_column!r}")
        self.policy = policy
        self.workers = workers
        self.timeout = timeout
        self.gold_column = gold_column
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

    def _golds(self, answer: Sequence[Any] | None, columns: Mapping[str, Any]) -> Sequence[Any]:
        if self.gold_column is not None:
            golds = answer if self.gold_column == "answer" else columns.get(self.gold_column)
            if golds is None:
                passed = sorted({*columns, *(["answer"] if answer is not None else [])})
                raise TypeError(f"OutcomeReward(gold_column={self.gold_column!r}) got no "
                                f"`{self.gold_column}=` column; columns passed: {passed}")
            return golds
        if answer is not None:
            return answer
        if columns.get("solution") is not None:
            return columns["solution"]
        raise TypeError("OutcomeReward needs the gold answers: pass `answer=` or `solution=` (the dataset's "
                        "gold column), or name the column with OutcomeReward(gold_column=...)")

    def __call__(self, completions: Sequence[Any], answer: Sequence[Any] | None = None,
                 **columns: Any) -> list[float | None]:
        golds = self._golds(answer, columns)
        if len(golds) != len(completions):
            raise ValueError(f"OutcomeReward got {len(completions)} completions but {len(golds)} answers")
        metas = [{k: col[i] for k in META_KEYS if (col := columns.get(k)) is not None and i < len(col)}
                 for i in range(len(completions))]
        pool = None
        if self.workers > 0:
            with self._lock:
                if self._pool is None:
                    self._pool = VerifierPool(workers=self.workers, timeout=self.timeout)
                pool = self._pool
        verdicts = score_items(golds, completions, metas, policy=self.policy, timeout=self.timeout, pool=pool)
        batch = Counter(v.status for v in verdicts)
        with self._lock:
            self.counts.update(batch)
        log_metric: Callable[[str, float], Any] | None = columns.get("log_metric")
        if callable(log_metric) and verdicts:
            for status in STATUSES:
                log_metric(f"outcome_reward/{status}", batch[status] / len(verdicts))
        return [reward_value(v) for v in verdicts]

    def close(self) -> None:
        """Stop the private pool, if any."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
