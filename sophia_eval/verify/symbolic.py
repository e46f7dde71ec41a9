"""The sympy path: bounded LaTeX/plain -> sympy, then equality by exact probing.

Only `compare.py` calls this, and in production only inside a pool worker that can be killed.
Input is checked by `guard.check_bounds` first and parsed by an ANTLR grammar
(latex2sympy2_extended), never by `sympify`/`parse_expr`, which evaluate Python.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Any

from sophia_eval.verify.guard import check_bounds

_PROBE_DIGITS = 40
_PROBES = 4


class SymbolicError(Exception):
    """The text could not be parsed or was refused by the bounds (message says which)."""


def _angle_name(m: "re.Match[str]") -> str:
    a, b, c = m.groups()
    return rf"\mathrm{{ang{min(a, c)}{b}{max(a, c)}}}"  # ABC = CBA; the vertex B stays in the middle


# Letters the LaTeX grammar turns into constants or functions, although in answers they are
# almost always variables: \gamma/\Gamma (EulerGamma / the gamma function: "\gamma+1" parses as
# gamma(+1) = 1), E (a number token: "E_{1}" fails), I (the imaginary unit).
_SYMBOL_REWRITES: tuple[tuple["re.Pattern[str]", Any], ...] = (
    # \angle ABC names one angle: a product A*B*C would equal \angle ACB
    (re.compile(r"\\angle\s*([A-Z])\s*([A-Z])\s*([A-Z])(?![A-Za-z_'])"), _angle_name),
    (re.compile(r"\\mathcal\s*\{([A-Za-z])\}"), r"\1"),  # \mathcal{E} (an EMF) names the letter
    (re.compile(r"\\(?:vec|overrightarrow)\s*\{((?:[^{}]|\{[^{}]*\})*)\}"), r"\1"),  # a vector's name is its letter
    (re.compile(r"_\{\s*\\(?:mathrm|text|rm|mathit)\s*\{\s*([A-Za-z0-9]+)\s*\}\s*\}"), r"_{\1}"),  # V_{\mathrm{th}}
    (re.compile(r"_\s*\\frac\s*(\{[^{}]*\}\s*\{[^{}]*\})"), r"_{\\frac\1}"),  # \log_\frac{1}{3}: the base is the fraction
    (re.compile(r"([A-Za-z])\s*\\odot(?![a-zA-Z])"), r"\1_{odot}"),  # L \odot: the solar L_{\odot}
    (re.compile(r"_\{\s*\\([a-zA-Z]+)\s*\}"), r"_{\1}"),  # r_{\max}, L_{\odot}: names, not commands
    (re.compile(r"\\gamma(?![a-zA-Z])"), r"\\mathrm{gam}"),
    (re.compile(r"\\Gamma(?![a-zA-Z])(?!\s*\()"), r"\\mathrm{Gam}"),
    (re.compile(r"(?<![\\a-zA-Z])(?<!\\mathrm\{)E(?![a-zA-Z])(?!\s*[+-]?\d)"), r"\\mathrm{E}"),
    (re.compile(r"(?<![\\a-zA-Z])(?<!\\mathrm\{)I(?![a-zA-Z])"), r"\\mathrm{I}"),
    # a subscripted e/E after other letters (2 m e_{0}, 2mE_k) is a variable; a command's letters
    # (preceded by a backslash) never start the run
    (re.compile(r"(?<![\\a-zA-Z])([a-zA-Z]*?)([eE])(?=\s*_)"), r"\1\\mathrm{\2}"),
    # d before a subscripted variable (8dU_1, L^2dv_0) is a length d, not a differential; braced,
    # since the grammar reads \mathrm{d}U as a differential too
    (re.compile(r"(?<![\\a-zA-Z])([a-zA-Z]*?)d(?=\s*[A-Za-z]\s*_)"), r"\1{d}"),
)


def _plain_to_latex(s: str) -> str:
    for pat, rep in _SYMBOL_REWRITES:
        s = pat.sub(rep, s)
    s = s.replace("**", "^")
    for _ in range(3):
        s = re.sub(r"\bsqrt\s*\(([^()]*)\)", r"\\sqrt{\1}", s)
    s = re.sub(r"(?<![\\a-zA-Z])(pi|infty|alpha|beta|theta)(?![a-zA-Z])", r"\\\1", s)
    return s


def to_sympy(s: str) -> Any:
    """Parse one answer element; raises SymbolicError on refusal or parse failure.

    Cached per process: a gold is parsed once for all the samples judged against it (a long
    physics gold takes the ANTLR grammar up to a second)."""
    out = _parse_cached(s)
    if isinstance(out, SymbolicError):
        raise SymbolicError(*out.args)
    return out


@lru_cache(maxsize=4096)
def _parse_cached(s: str) -> Any:
    try:
        return _parse(s)
    except SymbolicError as exc:
        return exc


def _parse(s: str) -> Any:
    reason = check_bounds(s)  # first: a refused input never pays for importing sympy
    if reason:
        raise SymbolicError(reason)
    if "%" in s:  # a LaTeX comment sign would silently drop the rest of the input
        raise SymbolicError("percent sign inside an expression")
    import sympy
    from latex2sympy2_extended import NormalizationConfig, latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig

    src = _plain_to_latex(s)
    try:
        expr = latex2sympy(
            src,
            normalization_config=NormalizationConfig(
                basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none",
                equations=False),
            conversion_config=ConversionConfig(
                interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False,
                lowercase_symbols=False),
        )
    except Exception as exc:  # the ANTLR converter raises many types; all mean "not parsed"
        raise SymbolicError(f"could not parse {s[:60]!r}: {type(exc).__name__}") from None
    if isinstance(expr, (list, tuple)) or expr is None:
        raise SymbolicError(f"could not parse {s[:60]!r} as one expression")
    if isinstance(expr, sympy.Basic) and expr.has(sympy.zoo, sympy.nan):
        raise SymbolicError(f"{s[:60]!r} is undefined (division by zero)")
    if isinstance(expr, sympy.Basic) and expr.atoms(sympy.Float):
        # a written decimal is an exact rational (0.5x is x/2; 0.333 is not 1/3), as in numbers.py
        try:
            expr = expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})
        except (AttributeError, TypeError, ValueError):  # some parser-made objects refuse xreplace
            pass
    return expr


def _has_float(e: Any) -> bool:
    import sympy

    return isinstance(e, sympy.Basic) and bool(e.atoms(sympy.Float))


def _probe_points(symbols: list[Any], exprs: tuple[Any, ...] = ()) -> list[dict[Any, Any]]:
    """Fixed rational points in (0.09, 14): four identify analytic expressions. Piecewise ones
    (|x|, floors, min/max) can agree on a whole region (|x-1| = x-1 for x >= 1), so they get
    many more points, of both signs."""
    import sympy

    rng = random.Random(1729)  # fixed: verdicts must be reproducible
    if _piecewise(exprs):
        return [{x: sympy.Rational(rng.choice((-1, 1)) * rng.randint(1, 97), rng.randint(7, 31)) for x in symbols}
                for _ in range(_PIECEWISE_PROBES)]
    return [{x: sympy.Rational(rng.randint(3, 97), rng.randint(7, 31)) for x in symbols} for _ in range(_PROBES)]


_PIECEWISE_PROBES = 32


def _piecewise(exprs: tuple[Any, ...]) -> bool:
    import sympy

    kinds = (sympy.Abs, sympy.floor, sympy.ceiling, sympy.sign, sympy.Min, sympy.Max, sympy.Mod,
             sympy.frac, sympy.Piecewise, sympy.Heaviside)
    return any(isinstance(e, sympy.Basic) and e.has(*kinds) for e in exprs)


def _value(e: Any, point: dict[Any, Any]) -> Any:
    """High-precision value of `e` at `point` (a sympy number), or None when undefined/infinite."""
    import sympy

    try:
        v = (e.xreplace(point) if point else e).evalf(_PROBE_DIGITS)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        return None
    if not getattr(v, "is_number", False) or v.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        return None
    if v.free_symbols:
        return None
    return v


def _zero_at(diff: Any, ref: Any, point: dict[Any, Any]) -> bool | None:
    """Is `diff` zero at `point`? Exact when the value is rational (rational probe points keep
    polynomial identities exact); else to 30 digits relative to the size of `ref`."""
    import sympy

    try:
        d = (diff.xreplace(point) if point else diff).doit()  # the parser leaves 2^{1009} unevaluated
        if isinstance(d, sympy.Rational):
            return d == 0
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, NotImplementedError):
        return None
    dv, rv = _value(d, {}), _value(ref, point)
    if dv is None or rv is None:
        return None
    return _abs(dv) <= 1e-30 * max(1.0, _abs(rv))


def _abs(v: Any) -> float:
    return float(abs(v).evalf(20))


def _close(a: Any, b: Any) -> bool:
    """Equal to 25 significant digits: exact expressions agree far beyond that, distinct ones do not."""
    return _abs((a - b).evalf(_PROBE_DIGITS)) <= 1e-25 * max(1.0, _abs(a), _abs(b))


def exprs_equal(gold: Any, pred: Any, *, tolerance: float | None = None,
                rel_tolerance: float | None = None, gold_places: int | None = None) -> tuple[bool, str]:
    """Equality of two parsed expressions: equations up to a non-zero factor, else values."""
    import sympy
    from sympy.core.relational import Relational

    if isinstance(gold, Relational) or isinstance(pred, Relational):
        return _relations_equal(gold, pred)
    if not isinstance(gold, sympy.Expr) or not isinstance(pred, sympy.Expr):
        return (gold == pred), "symbolic_structure"
    if gold == pred:
        return True, "symbolic"
    symbols = sorted(gold.free_symbols | pred.free_symbols, key=str)
    if not symbols and (tolerance is not None or rel_tolerance is not None or gold_places is not None):
        gv, pv = _value(gold, {}), _value(pred, {})
        if gv is None or pv is None:
            return False, "numeric_value"
        gv, pv = complex(gv), complex(pv)
        if abs(gv.imag) > 1e-12 or abs(pv.imag) > 1e-12:
            return False, "numeric_value"
        diff = abs(gv.real - pv.real)
        if tolerance is not None:
            return diff <= tolerance * 1.01, "tolerance"
        if rel_tolerance is not None:
            return diff <= rel_tolerance * abs(gv.real), "rel_tolerance"
        # gold written with N decimals (e.g. 1.73) vs an exact prediction (\sqrt{3})
        if not _has_float(pred):
            return round(pv.real, gold_places) == round(gv.real, gold_places), "gold_places"
        return False, "numeric_value"
    if _has_float(pred) and not _has_float(gold):
        return False, "inexact_prediction"  # 1.414 is not \sqrt{2} unless the item allows a tolerance
    diff = gold - pred
    for point in _probe_points(symbols, (gold, pred)) if symbols else [{}]:
        same = _zero_at(diff, gold, point)
        if same is None:
            break  # undefined at a probe: fall through to simplify
        if not same:
            return False, "symbolic"
    else:
        return True, "symbolic"
    try:
        return sympy.simplify(gold - pred) == 0, "simplify"
    except Exception:  # sympy raises many types on odd input
        return False, "simplify"


_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}


def _relations_equal(gold: Any, pred: Any) -> tuple[bool, str]:
    from sympy.core.relational import Relational

    if not (isinstance(gold, Relational) and isinstance(pred, Relational)):
        return False, "equation"
    gop, pop = gold.rel_op, pred.rel_op
    f, g = gold.lhs - gold.rhs, pred.lhs - pred.rhs
    if gop != pop:
        if _FLIP.get(pop) != gop:
            return False, "equation"
        g = -g
    symbols = sorted(f.free_symbols | g.free_symbols, key=str)
    ratio: complex | None = None
    for point in _probe_points(symbols, (f, g)) if symbols else [{}]:
        fv, gv = _value(f, point), _value(g, point)
        if fv is None or gv is None:
            return False, "equation"
        if _abs(gv) < 1e-30:
            if _abs(fv) < 1e-30:
                continue
            return False, "equation"
        r = (fv / gv).evalf(_PROBE_DIGITS)
        if _abs(r) < 1e-30:
            return False, "equation"
        if ratio is None:
            ratio = r
        elif not _close(ratio, r):
            return False, "equation"
    if ratio is None:
        return False, "equation"
    # inequalities may only be scaled by a positive factor; equations by any non-zero one
    re_part, im_part = ratio.as_real_imag()
    if gop not in ("==", "!=") and not (float(re_part) > 0 and abs(float(im_part)) < 1e-20):
        return False, "equation"
    return True, "equation"

