"""What each answer kind does with the answers found in a response: the comparators and gold
checks that the rows of `verify.kinds.KINDS` point at. Each comparator takes a `Found` and gives
a Verdict, or raises NeedsSymbolic in the fast pass when only sympy can decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

from sophia_eval.verify.choice import _bare_letters, choice_match, gold_letters, pred_letters
from sophia_eval.verify.compare import _SET_RE, Comparator, NeedsSymbolic, Outcome, _split_multi
from sophia_eval.verify.extract import ExtractionPolicy, extract_candidates, final_box, get_policy, is_prose
from sophia_eval.verify.normalize import (
    Normalized, balanced, compact, gold_unit, normalize, split_top_level, strip_text_wrappers,
)
from sophia_eval.verify.request import MAX_ANSWER_CHARS, Request, Verdict

BOOLEAN_WORDS = {"yes": True, "true": True, "correct": True, "是": True, "对": True,
                 "no": False, "false": False, "incorrect": False, "否": False, "不": False, "错": False}
"""Words a boolean gold or answer may be written as (a gold among them makes an untyped item boolean)."""


@dataclass(frozen=True)
class Found:
    """What a kind's comparator gets: the request, the distinct answers the policy found in the
    response (at most 50, in order), that policy, the kind's comparison form and whether sympy may run."""

    req: Request
    cands: list[str]
    policy: ExtractionPolicy
    form: str | None
    symbolic: bool


# ---- gold checks: the kind's own reason a gold cannot be used (after the generic checks) ----
def no_gold_problem(req: Request, kind: str) -> str | None:
    """Any gold that passed the generic checks is usable (the comparator's self-check does the rest)."""
    return None


def choice_gold_problem(req: Request, kind: str) -> str | None:
    """A choice gold names option letter(s) or an option's text."""
    if gold_letters(req.gold, req.options):
        return None
    return f"answer_type {kind} but gold {req.gold[:40]!r} is neither option letter(s) nor an option's text"


# ---- comparators ----------------------------------------------------------------------------
def judge_choice(f: Found) -> Verdict:
    """One option letter (several when the gold names several)."""
    return _choice(f, multi_kind=False)


def judge_multi_choice(f: Found) -> Verdict:
    """Every correct option letter, in any order."""
    return _choice(f, multi_kind=True)


def judge_boolean(f: Found) -> Verdict:
    """Yes/no in any of BOOLEAN_WORDS."""
    return _one_answer_equal(f, "boolean", _same_truth)


def judge_text(f: Found) -> Verdict:
    """Free text, equal up to case, spacing and text wrappers."""
    return _one_answer_equal(f, "text", lambda g, p: _text_key(g) == _text_key(p))


def _same_truth(gold: str, pred: str) -> bool:
    gb = BOOLEAN_WORDS.get(strip_text_wrappers(gold).lower())
    pb = BOOLEAN_WORDS.get(strip_text_wrappers(pred).lower().rstrip("."))
    return gb is not None and pb is not None and gb == pb


def _text_key(s: str) -> str:
    return compact(strip_text_wrappers(s)).lower()


def _one_answer_equal(f: Found, method: str, same: Callable[[str, str], bool]) -> Verdict:
    """The verdict of `same(gold, prediction)` on the normalised texts of the one answer."""
    got = _one_answer(f)
    if isinstance(got, Verdict):
        return got
    gold_n, pred_n, extracted = got
    ok = same(gold_n.text, pred_n.text)
    return Verdict("correct" if ok else "incorrect", ok, extracted=extracted, gold_parsed=gold_n.text,
                   pred_parsed=pred_n.text, method=method)


def judge_structured(f: Found) -> Verdict:
    """Maths: numbers exactly or within tolerance, then structure, then sympy (`compare.Comparator`)."""
    got = _one_answer(f)
    if isinstance(got, Verdict):
        return got
    gold_n, pred_n, extracted = got
    if not balanced(pred_n.text):
        return Verdict("incorrect", False, extracted=extracted[:MAX_ANSWER_CHARS], gold_parsed=gold_n.text,
                       method="parse", reason="prediction has unbalanced braces")
    out: Outcome = Comparator(f.req, symbolic=f.symbolic, form=f.form).compare(gold_n, pred_n)
    return Verdict(out.status, out.status == "correct", extracted=extracted[:MAX_ANSWER_CHARS],
                   gold_parsed=gold_n.text, pred_parsed=pred_n.text[:MAX_ANSWER_CHARS],
                   method=out.method, reason=out.reason)


# ---- shared steps -----------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _without_boxes(policy: ExtractionPolicy) -> ExtractionPolicy:
    return replace(policy, boxed=False)


def _choice(f: Found, *, multi_kind: bool) -> Verdict:
    req, cands = f.req, f.cands
    gl = gold_letters(req.gold, req.options) or []
    multi = multi_kind or len(gl) > 1
    picks = [pred_letters(c, req.options, multi=multi) for c in cands]
    chosen = list(dict.fromkeys(x for p in picks if p for x in p))
    if not chosen:  # boxed values that name no option, then "Answer: H": the letter decides
        later = extract_candidates(req.pred, _without_boxes(f.policy))
        chosen = list(dict.fromkeys(x for c in later for x in (pred_letters(c, req.options, multi=multi) or [])))
        if chosen:
            cands = later
    if len(chosen) > 1 and not multi:  # several boxed letters: the last one, if it concludes
        last = final_box(req.pred, f.policy)
        letters = pred_letters(last, req.options, multi=False) if last else None
        if letters and len(letters) == 1:
            chosen, cands = letters, [last]
    if not chosen and not multi and req.options and not is_prose(cands[-1]):
        # MathVision credits the option's value; fall back to a value comparison per option
        chosen = _value_pick(req, cands[-1], f.symbolic)
    status, reason = choice_match(gl, chosen or None, multi=multi)
    if status == "no_answer":  # an answer was found but names no option: wrong, not missing
        status, reason = "incorrect", f"answer {cands[-1][:40]!r} names no option"
    return Verdict(status, status == "correct", extracted=cands[-1], gold_parsed=",".join(gl),
                   pred_parsed=",".join(chosen), method="choice", reason=reason)


def _value_pick(req: Request, answer: str, symbolic: bool) -> list[str]:
    """Letters whose option equals the answer as maths (e.g. `\\frac{1}{2}` vs option `0.5`)."""
    assert req.options is not None
    if _bare_letters(req.options) or not re.search(r"[\d\\]", answer):  # no number, no maths: no value
        return []
    hits = []
    pred_n = normalize(answer, unit=req.unit)
    for i, opt in enumerate(req.options):
        sub = Request(gold=re.sub(r"^\s*\(?[A-Z]\s*[).:]\s*", "", opt), pred=answer, unit=req.unit)
        if is_prose(sub.gold):  # an option in words has no value to compare
            continue
        try:
            out = Comparator(sub, symbolic=symbolic).compare(normalize(sub.gold, unit=req.unit), pred_n)
        except NeedsSymbolic:
            raise
        except Exception:  # an unparsable option text is simply not a match
            continue
        if out.status == "correct":
            hits.append(chr(65 + i))
    return hits if len(hits) == 1 else []


def _one_answer(f: Found) -> Verdict | tuple[Normalized, Normalized, str]:
    """The one normalised prediction to compare (gold, prediction, extracted text), or the verdict
    when the answers found already decide (too long, a hedge, all boxes equal to the gold, empty)."""
    req, cands = f.req, f.cands
    gold_n = normalize(req.gold, unit=req.unit)
    unit = req.unit or gold_unit(req.gold)  # "63.3 g" matches a gold written "63.3 \\mathrm{~g}"
    if any(len(c) > MAX_ANSWER_CHARS for c in cands):
        return Verdict("incorrect", False, extracted=cands[-1][:200] + "...", method="length",
                       reason=f"extracted answer longer than {MAX_ANSWER_CHARS} characters")
    preds = [normalize(c, unit=unit) for c in cands]
    distinct = list(dict.fromkeys(compact(p.text) for p in preds))
    extracted = cands[-1]
    if len(distinct) > 1:
        gold_set = _SET_RE.match(gold_n.text)
        n_gold = len(split_top_level(gold_set.group(1))) if gold_set else len(_split_multi(gold_n.text))
        if n_gold > 1 and len(preds) == n_gold:  # one box per sub-answer (or per element of a set)
            joined = ", ".join(p.text for p in preds)
            pred_n = normalize(f"\\{{{joined}\\}}" if gold_set else joined)
            extracted = ", ".join(cands)
        else:
            # several boxes: fine if every one is the gold answer (`3` and `6/2`); else the last
            # one counts only when it concludes after intermediate results, otherwise a hedge
            comp = Comparator(req, symbolic=f.symbolic, form=f.form)
            if all(balanced(p.text) and comp.compare(gold_n, p).status == "correct" for p in preds):
                return Verdict("correct", True, extracted=extracted[:MAX_ANSWER_CHARS], gold_parsed=gold_n.text,
                               pred_parsed=preds[-1].text, method="all_boxes_agree",
                               reason=f"{len(distinct)} boxed forms, all equal to the gold")
            if final_box(req.pred, get_policy(req.policy)) is None:
                return Verdict("incorrect", False, extracted=" | ".join(cands)[:MAX_ANSWER_CHARS],
                               gold_parsed=gold_n.text, method="hedge",
                               reason=f"{len(distinct)} different boxed answers offered as alternatives")
            pred_n = preds[-1]
    else:
        pred_n = preds[-1]
    if not pred_n.text:
        return Verdict("no_answer", False, extracted=extracted[:MAX_ANSWER_CHARS],
                       reason="the extracted answer is empty once formatting is removed")
    return gold_n, pred_n, extracted
