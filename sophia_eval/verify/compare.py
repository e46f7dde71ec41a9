"""Structured comparison of a normalised gold and prediction: lists, sets, intervals, matrices.

Pure Python. Scalar elements go number -> string -> sympy; the sympy step raises `NeedsSymbolic`
when the caller runs without it (the fast in-process pass), so the check can move to a worker.
An answer kind steers it through its `form` (`verify.kinds`), one of FORMS or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from sophia_eval.verify.normalize import (
    Normalized, compact, expand_pm, label_key, latex_key, normalize, split_label, split_top_level, strip_assignment,
    strip_membership, strip_text_wrappers, unit_key,
)
from sophia_eval.verify.extract import is_prose
from sophia_eval.verify.numbers import Num, numbers_match, parse_number
from sophia_eval.verify.probe import clearly_different
from sophia_eval.verify.request import MAX_ANSWER_CHARS, Request


FORMS: tuple[str, ...] = ("percent", "matrix", "equation", "interval")
"""How a kind asks to be compared: `percent` (25%, 25 and 0.25 name it), `matrix` (the prediction
must be one), `equation` (both sides compared as an equation), `interval` (a bracketed pair is an
interval, not a tuple). None: the gold's own shape decides."""


class NeedsSymbolic(Exception):
    """Raised in the fast pass when only sympy can decide."""


@dataclass(frozen=True)
class Outcome:
    status: str
    method: str
    reason: str = ""


_MATRIX_RE = re.compile(r"^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.DOTALL)
_SET_RE = re.compile(r"^\\\{(.*)\\\}$", re.DOTALL)
_MULTI_SEPS = (",", ";", "\\text{ or }", "\\text{or}", " or ", "\\text{ and }", "\\text{and}", " and ")
_INF_RE = re.compile(r"^([+-]?)\s*(?:\\infty|inf|infinity)$")
_JUXTAPOSED_NUMBERS_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s+\d")
_WORDS_RE = re.compile(r"^[A-Za-z][A-Za-z '\-]*$")
# A numeral with its base as a subscript (52_8, 4210_{5}, 1A_{16}): the grammar drops the
# subscript of a number, so the base must be compared here
_BASE_NUMERAL_RE = re.compile(r"^([0-9A-Z]*[0-9][0-9A-Z]*)\s*_\s*(?:\{\s*(\d{1,2})\s*\}|(\d))$")
_DIGITS_RE = re.compile(r"^[0-9A-Z]+$")
_RELATION_RE = re.compile(r"\\(?:leq|geq|neq)|[<>]")
_DOUBLE_INEQ_RE = re.compile(r"^(.+?)\s*(<|\\leq)\s*[A-Za-z](?:_\{?\w+\}?)?\s*(<|\\leq)\s*(.+)$")


def inequality_as_interval(s: str) -> str | None:
    """`-2 \\leq x < 7` -> `[-2, 7)` (a variable between two bounds), else None."""
    m = _DOUBLE_INEQ_RE.match(s)
    if not m or _RELATION_RE.search(m.group(1)) or _RELATION_RE.search(m.group(4)):
        return None
    left = "[" if m.group(2) == "\\leq" else "("
    right = "]" if m.group(3) == "\\leq" else ")"
    return f"{left}{m.group(1).strip()}, {m.group(4).strip()}{right}"
# A compass bearing (N 34° W, degree mark already removed): letters and angle, not a product N*34*W
_BEARING_RE = re.compile(r"^([NS])\s*(\d{1,3}(?:\.\d+)?)\s*([EW])$")


class Comparator:
    """Compares one gold with one prediction under one request's metadata."""

    def __init__(self, req: Request, *, symbolic: bool, check_only: bool = False, form: str | None = None) -> None:
        if form is not None and form not in FORMS:
            raise ValueError(f"comparison form must be one of {FORMS} or None, got {form!r}")
        self.req = req
        self.form = form
        """The answer kind's form (its `verify.kinds` row), read where the kind changes the comparison."""
        self.symbolic = symbolic
        self.check_only = check_only
        """Gold self-check: every scalar must parse (compare(gold, gold) then says if it is usable)."""
        self.problem: str | None = None

    # ---- entry -------------------------------------------------------------------------
    def compare(self, gold: Normalized, pred: Normalized, index: int = 0) -> Outcome:
        """`index`: the sub-answer this is (picks its tolerance) when called for one list element."""
        g, p = gold.text, pred.text
        gu, pu = unit_key(gold.unit or self.req.unit), unit_key(pred.unit)
        radians = gold.degree and not pred.degree and pu == ("rad", 1)  # 145 rad is not 145°
        # 50.27 m is not 50.27 cm (no conversion: a unit is part of the answer); the generic
        # "units" matches any named unit of the same power, not another power
        if gu and pu and gu != pu and not radians and (gu[0] == pu[0] or "unit" not in (gu[0], pu[0])):
            expected = (gold.unit or self.req.unit or "").strip()
            return Outcome("incorrect", "unit", f"unit {pred.unit.strip()!r}, expected {expected!r}")
        if not self.check_only and not radians and compact(g) == compact(p) \
                and (gold.percent == pred.percent or not pred.percent):
            return Outcome("correct", "string")
        if len(g) > MAX_ANSWER_CHARS or len(p) > MAX_ANSWER_CHARS:
            return Outcome("incorrect", "string", "answer too long for structured comparison")
        if gold.percent or self.form == "percent":
            return self._percent(g, p, pred.percent, index)
        if radians or (gold.degree and not pred.degree and "\\pi" in p):  # 30° against \frac{\pi}{6}
            ok = self._scalar(g, f"\\frac{{180}}{{\\pi}}\\cdot ({p})", index)
            return Outcome("correct" if ok else "incorrect", "degrees")
        if pred.percent:  # "25%" against gold 25 (unit) or gold 0.25 (same quantity)
            ok = self._scalar(g, p, index) or self._number_scaled(p, g, Fraction(1, 100))
            return Outcome("correct" if ok else "incorrect", "percent")
        return self._structured(g, p, index)

    # ---- composite forms ---------------------------------------------------------------
    def _structured(self, g: str, p: str, index: int = 0) -> Outcome:
        g, p = strip_membership(g), strip_membership(p)
        p = self._chain_value(g, p)
        if _bracketed(g) and g[0] in "[(" and "," in g:
            p = inequality_as_interval(p) or p  # -2 \le x \le 7 against [-2, 7]
        gm, pm = _MATRIX_RE.match(g), _MATRIX_RE.match(p)
        if gm or self.form == "matrix":
            if not (gm and pm):
                return Outcome("incorrect", "matrix", "prediction is not a matrix")
            return self._matrix(gm.group(2), pm.group(2))
        gs = _SET_RE.match(g)
        if gs:
            ps = _SET_RE.match(p)
            if ps:
                return self._unordered(split_top_level(gs.group(1)), split_top_level(ps.group(1)), "set")
            if "\\pm" in p and len(_split_multi(p)) == 1:  # `\pm 2021` names both elements
                return self._unordered(split_top_level(gs.group(1)), [p], "set")
            return Outcome("incorrect", "set", "prediction is not a set")
        if "\\cup" in g and len(_split_multi(g)) == 1:  # "domain: A \\cup B and range: C" is a list
            return self._unordered(g.split("\\cup"), p.split("\\cup"), "union")
        if _bracketed(g) and len(split_top_level(g[1:-1])) > 1:
            return self._sequence(g, p)
        if self.form == "equation" or (g.count("=") == 1 and p.count("=") == 1):
            ok = self._scalar(g, p, index)
            if ok:
                return Outcome("correct", "equation")
        # "1,000" is one number unless the item says it holds several answers
        gold_parts = [g] if not self.req.multiple and parse_number(g) is not None else _split_multi(g)
        if len(gold_parts) > 1 or self.req.multiple or "\\pm" in g:
            pred_parts = _split_multi(p)
            if len(gold_parts) > 1 or len(pred_parts) > 1 or "\\pm" in g:
                return self._unordered(gold_parts, pred_parts, "multiple")
        gs2, ps2 = strip_assignment(g), strip_assignment(p)
        if "\\pm" in ps2 or len(_split_multi(ps2, thousands=True)) > 1:
            return Outcome("incorrect", "hedge", "several answers given for a single-answer item")
        ok = self._scalar(gs2, ps2, index)
        return Outcome("correct" if ok else "incorrect", self._last_method)

    def _chain_value(self, g: str, p: str) -> str:
        """The value a chain ends on (`24 \\cdot 24 = 576`, `|AB| = 1`, `(p,q)=(3,2)`) when the gold
        is a value, not an equation or relation, and the prediction one answer, not a list."""
        if "=" not in p or "=" in g or self.form == "equation" or _RELATION_RE.search(g + p):
            return p
        sides = split_top_level(p, ("=",))
        if len(sides) < 2 or not re.search(r"[\w\\]", sides[-1]) or len(_split_multi(p)) > 1:
            return p
        return sides[-1].strip()

    def _sequence(self, g: str, p: str) -> Outcome:
        """Ordered tuples and intervals: bracket types must match, elements compared in order."""
        if not _bracketed(p):
            return Outcome("incorrect", "tuple", "prediction is not a tuple or interval")
        kind = "interval" if (g[0], g[-1]) != ("(", ")") or self.form == "interval" else "tuple"
        if (g[0], g[-1]) != (p[0], p[-1]):
            return Outcome("incorrect", kind, f"brackets {g[0]}{g[-1]} vs {p[0]}{p[-1]}")
        ge, pe = split_top_level(g[1:-1]), split_top_level(p[1:-1])
        if len(ge) != len(pe):
            return Outcome("incorrect", kind, f"{len(pe)} elements, expected {len(ge)}")
        ok = all(self._scalar(a, b, i) for i, (a, b) in enumerate(zip(ge, pe)))
        return Outcome("correct" if ok else "incorrect", kind)

    def _unordered(self, gold_parts: list[str], pred_parts: list[str], kind: str) -> Outcome:
        gl = [split_label(x) for x in expand_pm([x.strip() for x in gold_parts if x.strip()])]
        pl = [split_label(x) for x in expand_pm([x.strip() for x in pred_parts if x.strip()])]
        ge, pe = [v for _, v in gl], [v for _, v in pl]
        if len(ge) != len(pe):
            return Outcome("incorrect", kind, f"{len(pe)} answers, expected {len(ge)}")
        if len(ge) > 64:
            return Outcome("incorrect", kind, "more than 64 answers")
        keys = [label_key(lab) for lab, _ in gl if lab]
        if len(keys) == len(gl) > 1 and len(set(keys)) == len(keys):
            return self._labelled(keys, ge, pl, kind)
        remaining = list(range(len(pe)))
        for i, a in enumerate(ge):
            hit = next((j for j in remaining if self._element(a, pe[j], i)), None)
            if hit is None:
                return Outcome("incorrect", kind, f"no match for gold element {a[:40]!r}")
            remaining.remove(hit)
        return Outcome("correct", kind)

    def _labelled(self, keys: list[str], ge: list[str], pl: list[tuple[str | None, str]], kind: str) -> Outcome:
        """Gold answers with distinct labels (`x=1, y=2`; `domain: ..., range: ...`): a labelled
        prediction is matched label by label, an unlabelled one in the gold's order."""
        pred_by_key = {label_key(lab): v for lab, v in pl if lab}
        for i, (key, a) in enumerate(zip(keys, ge)):
            if pred_by_key:
                if key not in pred_by_key:
                    return Outcome("incorrect", kind, f"no answer labelled {key!r}")
                b = pred_by_key[key]
            else:
                b = pl[i][1]
            if not self._element(a, b, i):
                return Outcome("incorrect", kind, f"wrong answer for {key!r}")
        return Outcome("correct", kind)

    def _element(self, a: str, b: str, i: int) -> bool:
        na, nb = normalize(a, unit=self.req.unit), normalize(b, unit=self.req.unit)
        if na.unit or nb.unit or na.percent or nb.percent or na.degree or nb.degree:  # "3 cm, 4 cm"
            return self.compare(na, nb, i).status == "correct"
        if _bracketed(a) and len(split_top_level(a[1:-1])) > 1:
            return self._sequence(a, b).status == "correct"
        if "\\cup" in a:
            return self._unordered(a.split("\\cup"), b.split("\\cup"), "union").status == "correct"
        return self._scalar(a, b, i)

    def _matrix(self, g: str, p: str) -> Outcome:
        grows = [r for r in re.split(r"\\\\", g) if r.strip()]
        prows = [r for r in re.split(r"\\\\", p) if r.strip()]
        gcells = [[c.strip() for c in r.split("&")] for r in grows]
        pcells = [[c.strip() for c in r.split("&")] for r in prows]
        if [len(r) for r in gcells] != [len(r) for r in pcells]:
            return Outcome("incorrect", "matrix", "shapes differ")
        ok = all(self._scalar(a, b, 0) for ra, rb in zip(gcells, pcells) for a, b in zip(ra, rb))
        return Outcome("correct" if ok else "incorrect", "matrix")

    def _percent(self, g: str, p: str, pred_has_percent: bool, index: int = 0) -> Outcome:
        """Gold is a percent: `25%`, `25` and `0.25` all name it; nothing else is rescaled."""
        ok = self._scalar(g, p, index) or (not pred_has_percent and self._number_scaled(g, p, Fraction(1, 100)))
        return Outcome("correct" if ok else "incorrect", "percent")

    def _number_scaled(self, a: str, b: str, factor: Fraction) -> bool:
        """a * factor == b exactly (the only rescaling: a percent and its fraction of one)."""
        an, bn = parse_number(a), parse_number(b)
        return bool(an and bn and an.value * factor == bn.value)

    # ---- scalars -----------------------------------------------------------------------
    _last_method = "string"

    def _tol(self, i: int) -> float | None:
        tol = self.req.tolerance
        if not tol:
            return None
        return tol[i] if i < len(tol) else tol[-1]

    def _scalar(self, g: str, p: str, i: int) -> bool:
        g, p = g.strip(), p.strip()
        if self.check_only:
            return self._check_scalar(g)
        if compact(g) == compact(p) or latex_key(g) == latex_key(p):
            self._last_method = "string"
            return True
        gb, pb = _BEARING_RE.match(g), _BEARING_RE.match(p)
        if gb or pb:
            self._last_method = "bearing"
            if not (gb and pb and gb.group(1) == pb.group(1) and gb.group(3) == pb.group(3)):
                return False
            ok, _ = numbers_match(parse_number(gb.group(2)), parse_number(pb.group(2)), tolerance=self._tol(i),
                                  rel_tolerance=self.req.rel_tolerance, precision=self.req.precision)
            return ok
        based = _base_numerals(g, p)
        if based is not None:
            self._last_method = "base"
            return based
        gi, pi_ = _INF_RE.match(compact(g)), _INF_RE.match(compact(p))
        if gi or pi_:
            self._last_method = "infinity"
            return bool(gi and pi_ and (gi.group(1) == "-") == (pi_.group(1) == "-"))
        gn, pn = parse_number(g), parse_number(p)
        if gn is not None and pn is not None:
            ok, self._last_method = numbers_match(
                gn, pn, tolerance=self._tol(i), rel_tolerance=self.req.rel_tolerance,
                precision=self.req.precision)
            return ok
        gt, pt = strip_text_wrappers(g), strip_text_wrappers(p)
        if gt.lower() == pt.lower() and _WORDS_RE.match(gt) and len(gt) > 1:  # single letters are symbols
            self._last_method = "text"
            return True
        if (gn is not None or _WORDS_RE.match(gt)) and _WORDS_RE.match(pt) and len(pt) > 1:
            self._last_method = "text"  # a word never equals a number; two different words differ
            return False
        if _WORDS_RE.match(gt) and " " in gt:
            self._last_method = "text"
            return False
        if _JUXTAPOSED_NUMBERS_RE.search(p):
            self._last_method = "ambiguous"  # "2 3" is neither 23 nor 2*3 nor a list: not an answer
            return False
        if is_prose(p) and not is_prose(g):
            self._last_method = "prose"  # "There are 2 bars": a sentence is never an expression
            return False
        if gn is not None and (_MATRIX_RE.match(p) or (_bracketed(p) and len(split_top_level(p[1:-1])) > 1)):
            self._last_method = "structure"  # a tuple, interval or matrix is not one number
            return False
        if gn is not None and _has_free_letter(p):
            self._last_method = "free_variable"  # `2a^2 + 2b^2`, `0 m/s^2`: not a number
            return False
        if self._tol(i) is None and self.req.rel_tolerance is None and self.req.precision is None \
                and clearly_different(g, p):
            self._last_method = "numeric_probe"  # values differ at a probe point: no sympy needed
            return False
        if not self.symbolic:
            raise NeedsSymbolic
        return self._sympy(g, p, i, gn)

    def _check_scalar(self, g: str) -> bool:
        """Check mode: is this gold element a number, a word, infinity, or parsable maths?"""
        self._last_method = "check"
        if not g:
            self.problem = "empty element in the gold answer"
            return False
        if parse_number(g) is not None or _INF_RE.match(compact(g)) or _WORDS_RE.match(strip_text_wrappers(g)):
            return True
        if not self.symbolic:
            raise NeedsSymbolic
        from sophia_eval.verify.symbolic import SymbolicError, to_sympy

        try:
            to_sympy(g)
            return True
        except SymbolicError as exc:
            self.problem = f"gold element {g[:60]!r}: {exc}"
            return False

    def _sympy(self, g: str, p: str, i: int, gn: Num | None) -> bool:
        from sophia_eval.verify.guard import check_bounds
        from sophia_eval.verify.symbolic import SymbolicError, exprs_equal, to_sympy

        self._last_method = "symbolic"
        if check_bounds(p):  # refused before the gold is parsed: never pays for importing sympy
            return False
        try:
            ge = to_sympy(g)
        except SymbolicError:
            self._last_method = "string"  # gold is not maths: exact text was the only chance
            return False
        try:
            pe = to_sympy(p)
        except SymbolicError:
            return False
        try:
            ok, self._last_method = exprs_equal(
                ge, pe, tolerance=self._tol(i), rel_tolerance=self.req.rel_tolerance,
                gold_places=gn.places if gn is not None else (self.req.precision))
        except (TypeError, ValueError, AttributeError, ArithmeticError, NotImplementedError):
            self._last_method = "symbolic_mismatch"  # e.g. a number against a set: not equal
            return False
        return ok


# What is not a free variable: commands (\\pi, \\sqrt, \\alpha), text, function names, e and i
_NOT_VARIABLES_RE = re.compile(
    r"\\(?:text|mathrm|operatorname|mbox)\s*\{[^{}]*\}|\\[a-zA-Z]+"
    r"|(?<![A-Za-z])(?:sin|cos|tan|cot|sec|csc|ln|log|exp|sqrt|arcsin|arccos|arctan|sinh|cosh|tanh|pi)(?![A-Za-z])"
    r"|(?<![A-Za-z])[eiE](?![A-Za-z])")


_BINDS_RE = re.compile(r"\\(?:int|iint|oint|sum|prod|lim|partial|frac\s*\{\s*d|mathrm\s*\{\s*d)|\bd[a-z]\b|\b(?:lim|sum|int)\b")


def _has_free_letter(p: str) -> bool:
    """True when `p` names a variable, so its value is not a number. Conservative: Greek
    letters (commands) and e, i, E never count, so only Latin letters decide."""
    if "=" in p or _BINDS_RE.search(p):  # \int ... dt, \sum_{k}: a bound variable is no free one
        return False
    return bool(re.search(r"[A-Za-z]", _NOT_VARIABLES_RE.sub(" ", p)))


def _base_numerals(g: str, p: str) -> bool | None:
    """Numerals with a base subscript: same digits and, when both name one, the same base
    (`52_8` is `52_{8}` and `52`, not `52_9`); None when neither side is such a numeral."""
    gm, pm = (m if m and _valid_in_base(m) else None for m in (_BASE_NUMERAL_RE.match(g), _BASE_NUMERAL_RE.match(p)))
    if not (gm or pm):
        return None
    (gd, gb), (pd, pb) = [(m.group(1), m.group(2) or m.group(3)) if m else (x, None)
                          for m, x in ((gm, g), (pm, p))]
    if not _DIGITS_RE.match(gd) or not _DIGITS_RE.match(pd):
        return False
    if gb is not None and pb is not None and int(gb) != int(pb):
        return False
    return gd.lstrip("0") == pd.lstrip("0")


def _valid_in_base(m: "re.Match[str]") -> bool:
    base = int(m.group(2) or m.group(3))
    return 2 <= base <= 36 and all(int(c, 36) < base for c in m.group(1))


def _bracketed(s: str) -> bool:
    """`s` is one bracketed group: its opening bracket closes at the very end (`(1,2)`, `[0,1)`)."""
    if len(s) < 2 or s[0] not in "([" or s[-1] not in ")]":
        return False
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return False
    return depth == 0


def _split_multi(s: str, thousands: bool = False) -> list[str]:
    if thousands and parse_number(s) is not None:
        return [s]
    return [x for x in split_top_level(s, _MULTI_SEPS) if x.strip()]
