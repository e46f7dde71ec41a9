"""Public entry points: verify, check_gold, verify_many."""

from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

from sophia_eval.verify.compare import NeedsSymbolic
from sophia_eval.verify.core import check_gold_core, judge
from sophia_eval.verify.extract import ExtractionPolicy
from sophia_eval.verify.pool import VerifierPool, default_pool
from sophia_eval.verify.types import Request, Verdict, make_request


def _check(req: Request, pool: VerifierPool | None) -> Verdict:
    """Fast pure-Python pass in this thread; the sympy part in a pool worker under the budget."""
    start = time.perf_counter()
    try:
        v = judge(req, symbolic=False)
    except NeedsSymbolic:
        v = (pool or default_pool()).run("verify", req)
    except RecursionError:
        v = Verdict("error", False, reason="input nested too deeply")
    except Exception as exc:  # garbage input gives a status, never an exception
        v = Verdict("error", False, reason=f"{type(exc).__name__}: {str(exc)[:200]}")
    return Verdict(**{**v.to_dict(), "elapsed_s": time.perf_counter() - start})


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
    Ends within `timeout` seconds of work in any thread or process. Raises only for invalid
    metadata (a caller bug); any gold/pred text gives a Verdict.
    """
    req = make_request(gold=gold, pred=pred, options=options, answer_type=answer_type,
                       tolerance=tolerance, rel_tolerance=rel_tolerance, precision=precision,
                       unit=unit, multiple=multiple, policy=policy, timeout=timeout)
    return _check(req, None)


def check_gold(
    *, gold: str, options: Any = None, answer_type: str | None = None, tolerance: Any = None,
    rel_tolerance: float | None = None, precision: int | None = None, unit: str | None = None,
    multiple: bool = False, policy: Any = None, timeout: float = 2.0,
) -> str | None:
    """None when the gold answer is understood, else the reason (for `sophia-eval validate`)."""
    try:
        req = make_request(gold=gold, pred="", options=options, answer_type=answer_type,
                           tolerance=tolerance, rel_tolerance=rel_tolerance, precision=precision,
                           unit=unit, multiple=multiple, policy=policy, timeout=timeout)
    except (TypeError, ValueError) as exc:
        return f"invalid metadata: {exc}"
    try:
        return check_gold_core(req, symbolic=False)
    except NeedsSymbolic:
        out = default_pool().run("check_gold", req)
    if isinstance(out, Verdict):  # timeout or worker error
        return f"gold could not be checked: {out.status} ({out.reason})"
    return out[1]


def verify_many(items: Iterable[Mapping[str, Any]], *, workers: int | None = None,
                timeout: float = 2.0) -> list[Verdict]:
    """Verdicts for `items` (mappings with `gold`, `pred` and optional metadata keys), in order.

    Uses the process-wide warm pool (grown to `workers` processes if asked for more).
    """
    return default_pool(workers).verify_many(items, timeout=timeout)
