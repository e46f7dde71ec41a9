"""One check from request to verdict: extract -> normalise -> compare (no pool, no timing)."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from sophia_eval.verify.choice import choice_match, gold_letters, pred_letters
from sophia_eval.verify.compare import _SET_RE, Comparator, NeedsSymbolic, Outcome, _split_multi
from sophia_eval.verify.extract import ExtractionPolicy, extract_candidates, final_box, get_policy, is_prose
from sophia_eval.verify.normalize import (
    balanced, compact, gold_unit, normalize, split_top_level, strip_text_wrappers,
)
from sophia_eval.verify.types import MAX_ANSWER_CHARS, Request, Verdict

_BOOL = {"yes": True, "true": True, "correct": True, "是": True, "对": True,
         "no": False, "false": False, "incorrect": False, "否": False, "不": False, "错": False}


def answer_kind(req: Request) -> str | None:
    """The answer type the request implies: its own, or choice/boolean inferred from the gold."""
    return req.answer_type or _inferred_kind(req.gold, req.options)


@lru_cache(maxsize=16384)  # keyed on the gold alone: many samples share one gold
def _inferred_kind(gold: str, options: tuple[str, ...] | None) -> str | None:
    g = strip_text_wrappers(normalize(gold).text)
    letters = gold_letters(gold, options) if options else None
    if letters:
        return "multi_choice" if len(letters) > 1 else "choice"
    if g.lower() in _BOOL:
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
    kind = answer_kind(req)
    if kind in ("choice", "multi_choice") and not gold_letters(req.gold, req.options):
        return f"answer_type {kind} but gold {raw[:40]!r} is neither option letter(s) nor an option's text"
    if req.tolerance and len(req.tolerance) > 1:
        n = len(_split_multi(normalize(raw, unit=req.unit).text))
        if n != len(req.tolerance):
            return f"{len(req.tolerance)} tolerances for {n} sub-answers"
    return None


def candidate_policy(req: Request, kind: str | None) -> ExtractionPolicy:
    """The item's policy; choice items default to the `choice` one."""
    default = "choice" if kind in ("choice", "multi_choice") else None
    return get_policy(req.policy if req.policy is not None else default)


def candidates(req: Request, kind: str | None) -> list[str]:
    """Answers in the response by the item's policy."""
    return extract_candidates(req.pred, candidate_policy(req, kind))


@lru_cache(maxsize=64)
def _without_boxes(policy: ExtractionPolicy) -> ExtractionPolicy:
    return replace(policy, boxed=False)


def judge(req: Request, *, symbolic: bool) -> Verdict:
    """The verdict for `req`; raises NeedsSymbolic when `symbolic` is False and sympy is needed."""
    problem = gold_problem(req)
    if problem:
        return Verdict("bad_gold", False, method="gold", reason=problem)
    kind = answer_kind(req)
    cands = candidates(req, kind)
    if not cands:
        return Verdict("no_answer", False, reason="no answer found in the response")
    gold_n = normalize(req.gold, unit=req.unit)
    cands = list(dict.fromkeys(cands))[-50:]  # repeated boxes count once; 50 distinct is a hedge anyway

    if kind in ("choice", "multi_choice"):
        gl = gold_letters(req.gold, req.options) or []
        multi = kind == "multi_choice" or len(gl) > 1
        picks = [pred_letters(c, req.options, multi=multi) for c in cands]
        chosen = list(dict.fromkeys(x for p in picks if p for x in p))
        if not chosen:  # boxed values that name no option, then "Answer: H": the letter decides
            later = extract_candidates(req.pred, _without_boxes(candidate_policy(req, kind)))
            chosen = list(dict.fromkeys(x for c in later for x in (pred_letters(c, req.options, multi=multi) or [])))
            if chosen:
                cands = later
        if len(chosen) > 1 and not multi:  # several boxed letters: the last one, if it concludes
            last = final_box(req.pred, candidate_policy(req, kind))
            letters = pred_letters(last, req.options, multi=False) if last else None
            if letters and len(letters) == 1:
                chosen, cands = letters, [last]
        if not chosen and not multi and req.options and not is_prose(cands[-1]):
            # MathVision credits the option's value; fall back to a value comparison per option
            chosen = _value_pick(req, cands[-1], symbolic)
        status, reason = choice_match(gl, chosen or None, multi=multi)
        if status == "no_answer":  # an answer was found but names no option: wrong, not missing
            status, reason = "incorrect", f"answer {cands[-1][:40]!r} names no option"
        return Verdict(status, status == "correct", extracted=cands[-1], gold_parsed=",".join(gl),
                       pred_parsed=",".join(chosen), method="choice", reason=reason)

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
            comp = Comparator(req, symbolic=symbolic)
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

    if kind == "boolean":
        gb = _BOOL.get(strip_text_wrappers(gold_n.text).lower())
        pb = _BOOL.get(strip_text_wrappers(pred_n.text).lower().rstrip("."))
        ok = gb is not None and pb is not None and gb == pb
        return Verdict("correct" if ok else "incorrect", ok, extracted=extracted, gold_parsed=gold_n.text,
                       pred_parsed=pred_n.text, method="boolean")
    if kind == "text":
        ok = compact(strip_text_wrappers(gold_n.text)).lower() == compact(strip_text_wrappers(pred_n.text)).lower()
        return Verdict("correct" if ok else "incorrect", ok, extracted=extracted, gold_parsed=gold_n.text,
                       pred_parsed=pred_n.text, method="text")
    if not balanced(pred_n.text):
        return Verdict("incorrect", False, extracted=extracted[:MAX_ANSWER_CHARS], gold_parsed=gold_n.text,
                       method="parse", reason="prediction has unbalanced braces")
    out: Outcome = Comparator(req, symbolic=symbolic).compare(gold_n, pred_n)
    return Verdict(out.status, out.status == "correct", extracted=extracted[:MAX_ANSWER_CHARS],
                   gold_parsed=gold_n.text, pred_parsed=pred_n.text[:MAX_ANSWER_CHARS],
                   method=out.method, reason=out.reason)


def _value_pick(req: Request, answer: str, symbolic: bool) -> list[str]:
    """Letters whose option equals the answer as maths (e.g. `\\frac{1}{2}` vs option `0.5`)."""
    assert req.options is not None
    from sophia_eval.verify.choice import _bare_letters

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


def check_gold_core(req: Request, *, symbolic: bool) -> str | None:
    """None when the gold is usable; runs the gold against itself and, with sympy, parses it."""
    problem = gold_problem(req)
    if problem:
        return problem
    kind = answer_kind(req)
    if kind in ("choice", "multi_choice", "boolean", "text"):
        return None
    g = normalize(req.gold, unit=req.unit)
    if not g.text:
        return "gold answer is empty after normalisation"
    comp = Comparator(req, symbolic=symbolic, check_only=True)
    out = comp.compare(g, g)
    if out.status != "correct":
        return comp.problem or out.reason or "gold answer does not match itself"
    return None
