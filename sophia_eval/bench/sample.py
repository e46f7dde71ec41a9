"""The typed benchmark item every stage passes around (loader -> prompts -> harness -> train).

A `Sample` carries the gold answer together with the answer metadata the verifier needs, so a
caller never has to know which benchmark an item came from to score it: `verify(gold=s.answer,
pred=text, **s.verify_kwargs())`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sophia_eval.verify.vocab import METADATA_KEYS


@dataclass(frozen=True)
class Sample:
    """One benchmark or training item."""

    benchmark: str
    """Registry name of the benchmark (or training set) the item belongs to."""
    id: str
    """Item id, unique within the benchmark; stable across releases where the source provides one."""
    question: str
    """Question text exactly as the source gives it (image placeholders such as `<image1>` kept)."""
    answer: str
    """Gold answer as a string (LaTeX, number, option letter(s), or option text)."""
    images: tuple[Any, ...] = ()
    """Image paths (str) or PIL images, in the order the question refers to them."""
    options: tuple[str, ...] = ()
    """Multiple-choice option texts, in letter order (A, B, ...); empty for free-form items."""
    answer_type: str | None = None
    """Verifier answer kind, e.g. `numeric`, `expression`, `equation`, `interval`, `tuple`,
    `choice`, `multi_choice`, `text`; None lets the verifier infer it."""
    tolerance: float | tuple[float, ...] | None = None
    """Absolute tolerance (one per sub-answer when a tuple), e.g. OlympiadBench `error`."""
    rel_tolerance: float | None = None
    """Relative tolerance, when the benchmark defines one."""
    precision: int | None = None
    """Decimal places the gold is given to (MathVista `precision`)."""
    unit: str | None = None
    """Unit the answer is expressed in (OlympiadBench physics); stripped from predictions."""
    multiple: bool = False
    """True when the gold holds several answers compared as an unordered list."""
    hint: str | None = None
    """Benchmark hint prepended to the query under the SOPHIA protocol (MathVista style)."""
    extraction: str | None = None
    """Name of the extraction policy for this item (registry default when None)."""
    categories: Mapping[str, str] = field(default_factory=dict)
    """Breakdown fields: subject, level, version, seed id, language, modality, ..."""
    source: str | None = None
    """Where the item was read from, as `file:line`, for error messages."""

    def verify_kwargs(self) -> dict[str, Any]:
        """The keyword arguments `sophia_eval.verify` needs besides `gold` and `pred`."""
        kwargs = {key: getattr(self, key) for key in METADATA_KEYS}
        kwargs["options"] = self.options or None
        return {**kwargs, "policy": self.extraction}
