"""Exact numbers without sympy: integers, decimals, fractions, scientific notation -> Fraction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

MAX_DIGITS = 400  # longer literals go to the symbolic path (and its bounds) or compare as text
MAX_EXP10 = 400  # |n| in 10^n handled exactly here

_DEC = r"(?:\d+(?:\.\d*)?|\.\d+)"
_INT_OR_DEC_RE = re.compile(rf"^[+-]?{_DEC}$")
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(?:(?:,|\\,| )\d{3})+(?:\.\d+)?$")
_FRAC_RE = re.compile(rf"^([+-]?)\\frac\{{\s*([+-]?{_DEC})\s*\}}\{{\s*([+-]?{_DEC})\s*\}}$")
_FRAC_SHORT_RE = re.compile(r"^([+-]?)\\frac(\d)(\d)$")
_SLASH_RE = re.compile(rf"^([+-]?{_DEC})\s*/\s*([+-]?{_DEC})$")
_MIXED_RE = re.compile(r"^([+-]?)(\d+)\s*\\frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}$")
_SCI_E_RE = re.compile(rf"^([+-]?{_DEC})[eE]([+-]?\d+)$")
_SCI_TIMES_RE = re.compile(rf"^([+-]?{_DEC})\s*(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{{?\s*([+-]?\d+)\s*\}}?$")
_POW10_RE = re.compile(r"^([+-]?)10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?$")


@dataclass(frozen=True)
class Num:
    """An exact value and, when it was written as a decimal, how many places were written."""

    value: Fraction
    places: int | None = None


def _dec(s: str) -> Num | None:
    s = s.strip()
    digits = sum(c.isdigit() for c in s)
    if digits == 0 or digits > MAX_DIGITS:
        return None
    try:
        v = Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None
    places = len(s.split(".", 1)[1]) if "." in s else None
    return Num(v, places)


def parse_number(s: str, *, thousands: bool = True) -> Num | None:
    """Exact value of a plain numeric answer, or None when `s` is not just a number.

    `thousands` accepts `1,234,567` as one number: callers disable it when a comma can separate
    several answers.
    """
    s = s.strip()
    if not s or len(s) > 2 * MAX_DIGITS:
        return None
    if s.startswith("+"):
        s = s[1:]
    if _INT_OR_DEC_RE.match(s):
        return _dec(s)
    if thousands and _THOUSANDS_RE.match(s):
        return _dec(re.sub(r"\\,|,| ", "", s))
    if s.startswith("(") and s.endswith(")") and s.count("(") == 1:  # "(-3)"
        return parse_number(s[1:-1], thousands=False)
    m = _FRAC_RE.match(s) or _FRAC_SHORT_RE.match(s)
    if m:
        sign, a, b = m.groups()
        return _ratio(sign, a, b)
    m = _SLASH_RE.match(s)
    if m:
        return _ratio("", m.group(1), m.group(2))
    m = _MIXED_RE.match(s)
    if m:
        sign, whole, a, b = m.groups()
        if int(b) == 0:
            return None
        v = int(whole) + Fraction(int(a), int(b))
        return Num(-v if sign == "-" else v)
    m = _SCI_E_RE.match(s) or _SCI_TIMES_RE.match(s)
    if m:
        base, exp = _dec(m.group(1)), int(m.group(2))
        if base is None or abs(exp) > MAX_EXP10:
            return None
        return Num(base.value * Fraction(10) ** exp)
    m = _POW10_RE.match(s)
    if m and abs(int(m.group(2))) <= MAX_EXP10:
        v = Fraction(10) ** int(m.group(2))
        return Num(-v if m.group(1) == "-" else v)
    return None


def _ratio(sign: str, a: str, b: str) -> Num | None:
    na, nb = _dec(a), _dec(b)
    if na is None or nb is None or nb.value == 0:
        return None
    v = na.value / nb.value
    return Num(-v if sign == "-" else v)


def round_to(v: Fraction, places: int) -> Fraction:
    """Round half away from zero to `places` decimals (the convention benchmarks state answers in)."""
    q = Decimal(v.numerator) / Decimal(v.denominator) if abs(v) < 10**30 else Decimal(int(v))
    return Fraction(q.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def numbers_match(
    gold: Num, pred: Num, *, tolerance: float | None = None, rel_tolerance: float | None = None,
    precision: int | None = None,
) -> tuple[bool, str]:
    """Compare exactly first; then the item's tolerance or precision; then the gold's written places.

    The last rule: a gold written as `0.33` is matched by an exact prediction such as `1/3` that
    rounds to it, but never by a different decimal (`0.34`, `0.3`).
    """
    g, p = gold.value, pred.value
    if g == p:
        return True, "exact_number"
    if tolerance is not None:
        # OlympiadBench's judge applies its `error` with a 1% slack; we keep it so their
        # published numbers are reproducible.
        return abs(g - p) <= Fraction(tolerance) * Fraction(101, 100), "tolerance"
    if rel_tolerance is not None:
        return abs(g - p) <= Fraction(rel_tolerance) * abs(g), "rel_tolerance"
    if precision is not None:
        return round_to(g, precision) == round_to(p, precision), "precision"
    if gold.places and (pred.places or 0) > gold.places or (gold.places and pred.places is None):
        return round_to(p, gold.places) == g, "gold_places"
    return False, "exact_number"

