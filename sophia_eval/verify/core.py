"""One check from request to verdict: extract -> the kind's comparator (no pool, no timing).

The item's kind (its own, or choice/boolean inferred from the gold) is a row of `verify.kinds`;
its gold check, extraction policy, comparator and form come from that row.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sophia_eval.verify.choice import gold_letters
from sophia_eval.verify.compare import Comparator, _split_multi
from sophia_eval.verify.extract import ExtractionPolicy, extract_candidates, get_policy
from sophia_eval.verify.judges import BOOLEAN_WORDS, Found
from sophia_eval.verify.kinds import KINDS, UNTYPED, AnswerKind
from sophia_eval.verify.normalize import balanced, normalize, strip_text_wrappers
from sophia_eval.verify.request import MAX_ANSWER_CHARS, Request, Verdict


def answer_kind(req: Request) -> str | None:
    """The answer type the request implies: its own, or choice/boolean inferred from the gold."""
    return req.answer_type or _inferred_kind(req.gold, req.options)


def kind_row(req: Request) -> AnswerKind:
    """The table row that decides `req` (untyped items are compared as expressions)."""
    return KINDS[answer_kind(req) or UNTYPED]


@lru_cache(maxsize=16384)  # keyed on the gold alone: many samples share one gold
def _inferred_kind(gold: str, options: tuple[str, ...] | None) -> str | None:
    g = strip_text_wrappers(normalize(gold).text)
    letters = gold_letters(gold, options) if options else None
    if letters:
        return "multi_choice" if len(letters) > 1 else "choice"
    if g.lower() in BOOLEAN_WORDS:
        return "boolean"
    return None


def gold_problem(req: Request) -> str | None:
    """Why the gold answer cannot be used (pure-Python checks), or None."""
    return _gold_problem(req.gold, req.options, req.answer_type, req.tolerance, req.unit)


@lru_cache(maxsize=16384)
def _gold_problem(raw: str, options: tuple[str, ...] | None, answer_type: str | None,
                  tolerance: tuple[float, ...] | None, unit: str | None) -> str | None:
    req = Request(gold=raw, pred="", options=options, answer_type=answer_type, tolerance=tolerance, unit=unit)
    if not raw.strip():
        return "gold answer is empty"
    if len(raw) > MAX_ANSWER_CHARS:
        return f"gold answer longer than {MAX_ANSWER_CHARS} characters"
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", raw):
        return "gold answer contains control characters (e.g. a JSON \\f escape bug upstream)"
    if not balanced(raw):
        return "gold answer has unbalanced braces"
    if not normalize(raw, unit=unit).text:
        return f"gold answer {raw[:40]!r} is empty once formatting is removed"
    row = kind_row(req)
    problem = row.gold_check(req, row.name)
    if problem:
        return problem
    if req.tolerance and len(req.tolerance) > 1:
        n = len(_split_multi(normalize(raw, unit=req.unit).text))
        if n != len(req.tolerance):
            return f"{len(req.tolerance)} tolerances for {n} sub-answers"
    return None


def candidate_policy(req: Request, row: AnswerKind) -> ExtractionPolicy:
    """The item's policy, else its kind's (choice kinds default to the `choice` one)."""
    return get_policy(req.policy if req.policy is not None else row.extraction)


def judge(req: Request, *, symbolic: bool) -> Verdict:
    """The verdict for `req`; raises NeedsSymbolic when `symbolic` is False and sympy is needed."""
    problem = gold_problem(req)
    if problem:
        return Verdict("bad_gold", False, method="gold", reason=problem)
    row = kind_row(req)
    policy = candidate_policy(req, row)
    cands = extract_candidates(req.pred, policy)
    if not cands:
        return Verdict("no_answer", False, reason="no answer found in the response")
    cands = list(dict.fromkeys(cands))[-50:]  # repeated boxes count once; 50 distinct is a hedge anyway
    return row.compare(Found(req, cands, policy, row.form, symbolic))


def check_gold_core(req: Request, *, symbolic: bool) -> str | None:
    """None when the gold is usable; runs the gold against itself and, with sympy, parses it."""
    problem = gold_problem(req)
    if problem:
        return problem
    row = kind_row(req)
    if not row.self_check:
        return None
    g = normalize(req.gold, unit=req.unit)
    if not g.text:
        return "gold answer is empty after normalisation"
    comp = Comparator(req, symbolic=symbolic, check_only=True, form=row.form)
    out = comp.compare(g, g)
    if out.status != "correct":
        return comp.problem or out.reason or "gold answer does not match itself"
    return None
