"""Answer kinds, one table: a row per kind says how its gold is checked, how an answer is compared,
what the prompt asks for, which extraction policy it defaults to and whether its gold is maths.

Everything that depends on an item's `answer_type` reads this table (the verifier's judge and
check_gold, `Request` coercion, the benchmark loader, the CLI and the prompt instruction), so a
new kind is one row here plus a case file `tests/verify/cases/<kind>.jsonl`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sophia_eval.verify.compare import FORMS
from sophia_eval.verify.judges import (
    Found, choice_gold_problem, judge_boolean, judge_choice, judge_multi_choice, judge_structured, judge_text,
    no_gold_problem,
)
from sophia_eval.verify.request import Request, Verdict
from sophia_eval.verify.vocab import EXTRACTION_POLICIES


@dataclass(frozen=True)
class AnswerKind:
    """One answer kind and every role it plays."""

    name: str
    """The `answer_type` value that selects this row (benchmark YAML, item metadata, CLI)."""
    description: str
    gold_check: Callable[[Request, str], str | None]
    """(request, kind name) -> why the gold cannot be used for this kind, or None."""
    compare: Callable[[Found], Verdict]
    """The answers found in a response -> the verdict (may raise NeedsSymbolic in the fast pass)."""
    instruction: Callable[[str | None], str]
    """The item's unit (or None) -> the prompt's answer instruction."""
    extraction: str = "default"
    """Extraction policy used when the item names none (a name in `vocab.EXTRACTION_POLICIES`)."""
    form: str | None = None
    """How the structured comparator treats it (one of `compare.FORMS`), None: by the gold's shape."""
    self_check: bool = True
    """check_gold compares the gold with itself and, with sympy, parses it; False for golds that
    are letters, yes/no or text, which the gold check alone settles."""
    choice: bool = False
    """The answer is option letter(s): an item with options but a non-choice kind is asked for a letter."""

    def __post_init__(self) -> None:
        if self.extraction not in EXTRACTION_POLICIES:
            raise ValueError(f"kind {self.name!r}: extraction must be one of {EXTRACTION_POLICIES}, got {self.extraction!r}")
        if self.form is not None and self.form not in FORMS:
            raise ValueError(f"kind {self.name!r}: form must be one of {FORMS} or None, got {self.form!r}")


def boxed(unit: str | None) -> str:
    if unit:
        return f"Put the final answer in \\boxed{{}}, expressed in {unit}."
    return "Put the final answer in \\boxed{}."


def one_letter(unit: str | None) -> str:
    return "Answer with the letter of the correct option in \\boxed{}, e.g. \\boxed{B}."


def all_letters(unit: str | None) -> str:
    return "Give the letters of all correct options, separated by commas, in \\boxed{}, e.g. \\boxed{A, C}."


def _maths(name: str, description: str, form: str | None = None) -> AnswerKind:
    return AnswerKind(name, description, no_gold_problem, judge_structured, boxed, form=form)


_ROWS = (
    _maths("numeric", "a number, exact or within the item's tolerance or precision"),
    _maths("expression", "a formula, equal as maths (sympy when needed)"),
    _maths("equation", "an equation, compared whole", form="equation"),
    _maths("interval", "an interval; a bracketed pair is never a tuple", form="interval"),
    _maths("tuple", "an ordered tuple, element by element"),
    _maths("set", "a set, elements in any order"),
    _maths("matrix", "a matrix; the prediction must be one", form="matrix"),
    AnswerKind("choice", "one option letter", choice_gold_problem, judge_choice, one_letter,
               extraction="choice", self_check=False, choice=True),
    AnswerKind("multi_choice", "every correct option letter", choice_gold_problem, judge_multi_choice, all_letters,
               extraction="choice", self_check=False, choice=True),
    AnswerKind("text", "free text, equal up to case and spacing", no_gold_problem, judge_text, boxed,
               self_check=False),
    AnswerKind("boolean", "yes or no (true/false, 是/否, ...)", no_gold_problem, judge_boolean, boxed,
               self_check=False),
    _maths("percent", "a percent: 25%, 25 and 0.25 all name it", form="percent"),
)

KINDS: dict[str, AnswerKind] = {row.name: row for row in _ROWS}
"""The table, by name. Readers look rows up at call time, so a row added here is seen everywhere."""

ANSWER_TYPES: tuple[str, ...] = tuple(KINDS)
"""The kinds' names, in table order (the CLI's choices and help, the schema's check)."""

UNTYPED = "expression"
"""The row for an item with no kind whose gold is not an option letter nor a yes/no word."""


def answer_instruction(answer_type: str | None, *, unit: str | None, has_options: bool) -> str:
    """The prompt's answer instruction for an item: its kind's, a letter when it has options but
    no choice kind, else the boxed answer (in the item's unit)."""
    row = KINDS.get(answer_type) if answer_type else None
    if has_options and (row is None or not row.choice):
        row = KINDS["choice"]
    return (row or KINDS[UNTYPED]).instruction(unit)
