"""The verifier's public data types and request coercion: `Verdict`, `Request`, `make_request`
and `ANSWER_TYPES` (the names of `verify.kinds.KINDS`, the one table of answer kinds)."""

from __future__ import annotations

from typing import Any

from sophia_eval.verify.extract import get_policy
from sophia_eval.verify.kinds import ANSWER_TYPES, KINDS
from sophia_eval.verify.request import MAX_ANSWER_CHARS, VERIFIER_VERSION, Request, Verdict
from sophia_eval.verify.vocab import STATUSES  # re-exported here; defined once in vocab

__all__ = ["ANSWER_TYPES", "MAX_ANSWER_CHARS", "STATUSES", "VERIFIER_VERSION", "Request", "Verdict", "make_request"]


def make_request(
    *, gold: Any, pred: Any, options: Any = None, answer_type: str | None = None,
    tolerance: Any = None, rel_tolerance: float | None = None, precision: int | None = None,
    unit: str | None = None, multiple: bool = False, policy: Any = None, timeout: float = 2.0,
) -> Request:
    """Coerce loosely typed metadata (benchmark strings such as OlympiadBench `error`) into a Request."""
    if policy is not None:
        try:
            get_policy(policy)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    kind = answer_type.lower() if isinstance(answer_type, str) else answer_type
    if kind is not None and kind not in KINDS:  # read live, so a row added to the table is accepted
        raise ValueError(f"answer_type must be one of {tuple(KINDS)} or None, got {kind!r}")
    return Request(
        gold=gold, pred=pred,
        options=tuple(str(o) for o in options) if options else None,
        answer_type=kind,
        tolerance=_coerce_tolerance(tolerance),
        rel_tolerance=None if rel_tolerance is None else float(rel_tolerance),
        precision=None if precision is None else int(precision),
        unit=(unit.strip() or None) if isinstance(unit, str) else None,
        multiple=bool(multiple), policy=policy, timeout=float(timeout),
    )


def _coerce_tolerance(tol: Any) -> tuple[float, ...] | None:
    """Accept a number, a sequence, or OlympiadBench's string form ('1e-2', '0.1,0.2', 'None')."""
    if tol is None:
        return None
    if isinstance(tol, str):
        parts = [p.strip() for p in tol.split(",") if p.strip()]
        if not parts or all(p.lower() == "none" for p in parts):
            return None
        try:
            return tuple(float(p) for p in parts)
        except ValueError as exc:
            raise ValueError(f"tolerance string must be numbers separated by commas, got {tol!r}") from exc
    if isinstance(tol, (int, float)):
        return (float(tol),)
    return tuple(float(t) for t in tol)
