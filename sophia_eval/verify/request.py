"""Verifier data types below the answer-kind table: the request (gold + its metadata) and the verdict.

`types.make_request` builds a Request and checks its answer kind against `verify.kinds.KINDS`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from sophia_eval.verify.vocab import STATUSES  # re-exported here; defined once in vocab

VERIFIER_VERSION = "0.3.0"
"""Bumped whenever a verdict can change for the same input (recorded in every run)."""

# Bounds applied before any parsing: a model answer is short; a longer one is garbage or an attack.
MAX_ANSWER_CHARS = 2_000  # extracted answers / golds longer than this are compared as text only


@dataclass(frozen=True)
class Verdict:
    """Outcome of one check. `correct` is True only when `status == "correct"`."""

    status: str
    """One of correct, incorrect, no_answer, bad_gold, timeout, error."""
    correct: bool
    """Convenience flag, `status == "correct"`."""
    extracted: str | None = None
    """Answer extracted from the model response (None when nothing was found)."""
    gold_parsed: str | None = None
    """Normalised form of the gold answer the comparison used."""
    pred_parsed: str | None = None
    """Normalised form of the prediction the comparison used."""
    method: str = ""
    """Which rule decided: string, exact_number, tolerance, symbolic, equation, choice, ..."""
    reason: str = ""
    """Short human-readable explanation."""
    elapsed_s: float = 0.0
    """Wall time of the check, including any worker round-trip."""
    verifier_version: str = VERIFIER_VERSION
    """Version of the verifier that produced this verdict."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Verdict.status must be one of {STATUSES}, got {self.status!r}")
        if self.correct != (self.status == "correct"):
            raise ValueError("Verdict.correct must equal (status == 'correct')")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Request:
    """One gold answer with the benchmark metadata that defines how it is matched (internal)."""

    gold: str
    pred: str
    options: tuple[str, ...] | None = None
    answer_type: str | None = None
    """A row of `verify.kinds.KINDS` (checked by `make_request`) or None (inferred from the gold)."""
    tolerance: tuple[float, ...] | None = None
    rel_tolerance: float | None = None
    precision: int | None = None
    unit: str | None = None
    multiple: bool = False
    policy: Any = None  # ExtractionPolicy | str | None
    timeout: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.gold, str):
            raise TypeError(f"gold must be a str, got {type(self.gold).__name__}; convert it first")
        if not isinstance(self.pred, str):
            raise TypeError(f"pred must be a str (the model response), got {type(self.pred).__name__}")
        for tol in self.tolerance or ():
            if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
                raise ValueError(f"tolerance values must be finite numbers >= 0, got {tol!r}")
        if self.rel_tolerance is not None and not (0 <= self.rel_tolerance < 1):
            raise ValueError(f"rel_tolerance must be in [0, 1), got {self.rel_tolerance!r}")
        if self.precision is not None and not (0 <= self.precision <= 30):
            raise ValueError(f"precision (decimal places) must be in 0..30, got {self.precision!r}")
        if not (0 < self.timeout <= 600):
            raise ValueError(f"timeout must be in (0, 600] seconds, got {self.timeout!r}")
