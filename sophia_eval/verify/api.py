"""Public entry points: verify, check_gold, verify_many."""

from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

from sophia_eval.verify.check import check
from sophia_eval.verify.compare import NeedsSymbolic
from sophia_eval.verify.core import check_gold_core
from sophia_eval.verify.extract import ExtractionPolicy
from sophia_eval.verify.pool import default_pool
from sophia_eval.verify.types import Verdict, make_request


def verify(
    *, gold: str, pred: str, options: Any = None, answer_type: str | None = None,
    tolerance: Any = None, rel_tolerance: float | None = None, precision: int | None = None,
    unit: str | None = None, multiple: bool = False, policy: "ExtractionPolicy | str | None" = None,
    timeout: float = 2.0,
) -> Verdict:
    """Is the answer in the model response `pred` equal to `gold`? Keyword-only, gold first.

    Metadata comes from the benchmark: `options` (choice texts in letter order), `answer_type`
    (one of ANSWER_TYPES), `tolerance` (absolute; one per sub-answer allowed), `rel_tolerance`,
    `precision` (decimal places), `unit`, `multiple` (unordered list), `policy` (extraction).
    Ends within `timeout` seconds of the call (waiting for a worker included) in any thread or
    process. Raises only for invalid
    metadata (a caller bug); any gold/pred text gives a Verdict.
    """
    req = make_request(gold=gold, pred=pred, options=options, answer_type=answer_type,
                       tolerance=tolerance, rel_tolerance=rel_tolerance, precision=precision,
                       unit=unit, multiple=multiple, policy=policy, timeout=timeout)
    return check(req, default_pool)


def check_gold(
    *, gold: str, options: Any = None, answer_type: str | None = None, tolerance: Any = None,
    rel_tolerance: float | None = None, precision: int | None = None, unit: str | None = None,
    multiple: bool = False, policy: Any = None, timeout: float = 2.0,
) -> str | None:
    """None when the gold answer is understood, else the reason (for `sophia-eval validate`)."""
    deadline = time.monotonic() + timeout
    try:
        req = make_request(gold=gold, pred="", options=options, answer_type=answer_type,
                           tolerance=tolerance, rel_tolerance=rel_tolerance, precision=precision,
                           unit=unit, multiple=multiple, policy=policy, timeout=timeout)
    except (TypeError, ValueError) as exc:
        return f"invalid metadata: {exc}"
    try:
        return check_gold_core(req, symbolic=False)
    except NeedsSymbolic:
        out = default_pool().run("check_gold", req, deadline=deadline)
    if isinstance(out, Verdict):  # timeout or worker error
        return f"gold could not be checked: {out.status} ({out.reason})"
    return out[1]


def verify_many(items: Iterable[Mapping[str, Any]], *, workers: int | None = None,
                timeout: float = 2.0) -> list[Verdict]:
    """Verdicts for `items` (mappings with `gold`, `pred` and optional metadata keys), in order.

    Uses the process-wide warm pool (grown to `workers` processes if asked for more).
    """
    return default_pool(workers).verify_many(items, timeout=timeout)
