"""String normalisation of answers (pure Python): LaTeX noise, units, degrees, percent, assignments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_CTRL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE_CMDS_RE = re.compile(r"(?<!\\)\\[,;: ]|\\q?quad\b|~|\\displaystyle|\\textstyle|\\limits")
_LEFT_RIGHT_RE = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])\s*")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\circ\b|\\degree\b|\s*\bdegrees?\b|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}")
_PERCENT_RE = re.compile(r"\s*(?:\\%|%|\\text\{\s*percent\s*\}|\s\bpercent\b)\s*$")
_TEXT_WRAP_RE = re.compile(r"\\(?:text|textnormal|textrm|textbf|textit|mathrm|mathbf|mathit|mbox|operatorname|rm|bf)\s*\{([^{}]*)\}")
_SUB = r"(?:_(?:\{[^{}]*\}|[A-Za-z0-9]))?"
_LABEL_RE = re.compile(  # "Weekly water intake", "Weight", "S.A.": words, not a product of variables
    r"^\s*(?:[A-Za-z][A-Za-z.']{2,}(?:\s+[A-Za-z.']+)+|[A-Z][a-z]{2,}|[A-Z](?:\.[A-Z])+\.?)\s*$")
_NESTED = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"  # a {group} with up to two nested levels
_ASSIGN_LHS_RE = re.compile(
    rf"^\s*(?:[A-Za-z]{_SUB}'*|\\(?:vec|overrightarrow|hat|bar|overline|mathbf){_NESTED}{_SUB}'*"
    rf"|\\[a-zA-Z]+{_SUB}|[A-Za-z]\([A-Za-z0-9]*\)|\\langle[^=]*?\\rangle)\s*$")
# "domain: [-4, 0)": a word label and a colon (two letters at least, so a ratio a:b is not one)
_COLON_LABEL_RE = re.compile(
    r"^\s*(?:\\text\s*\{\s*)?([A-Za-z][A-Za-z ]*[A-Za-z])\s*(?::\s*\}|\}\s*:|:)\s*(\S.*)$", re.DOTALL)
_UNICODE = {
    "−": "-", "–": "-", "—": "-", "×": "\\times ", "·": "\\cdot ", "÷": "/", "π": "\\pi ",
    "∞": "\\infty ", "√": "\\sqrt", "≤": "\\leq ", "≥": "\\geq ", "≠": "\\neq ", "，": ",",
    "（": "(", "）": ")", "：": ":", "－": "-", "＝": "=", "＋": "+", "；": ";", "＜": "<", "＞": ">",
    "≈": "\\approx ", "∈": "\\in ", "∉": "\\notin ", "∅": "\\emptyset ", "′": "'", "∪": "\\cup ", "±": "\\pm ", "\u3000": " ", "\xa0": " ",
}
_CMD_ALIASES = (
    (re.compile(r"\\[dt]frac"), r"\\frac"), (re.compile(r"\\le(?![a-zA-Z])"), r"\\leq"),
    (re.compile(r"\\ge(?![a-zA-Z])"), r"\\geq"), (re.compile(r"\\ne(?![a-zA-Z])"), r"\\neq"),
    (re.compile(r"\\(?:approx|simeq|sim|doteq)(?![a-zA-Z])"), "="), (re.compile(r"\\lbrace"), r"\\{"),
    (re.compile(r"\\rbrace"), r"\\}"), (re.compile(r"\\mp(?![a-zA-Z])"), r"\\pm"),
    (re.compile(r"\\infin(?![a-zA-Z])"), r"\\infty"),
    (re.compile(r"\^\s*(?:\{\s*\\prime\s*\}|\\prime(?![a-zA-Z]))"), "'"),  # k^{\prime} is k'
    (re.compile(r"\\(?:dots|ldots|cdots)(?![a-zA-Z])"), r"\\ldots"), (re.compile(r"\\varnothing|\\emptyset"), r"\\emptyset"),
)
# The unit vocabulary, one table: unit key -> spellings. Every spelling of two or more
# characters is stripped from the end of a numeric answer ("5 cm" -> 5). Keyed units are also
# compared (compare.py): two known units must agree with their power, without conversion. Bare
# single letters (m, s, h, g, l) are compared when the benchmark or gold names them but stripped
# only from `\text{ m}`: "5 m" may be 5m. Not exhaustive by design: a benchmark's unit comes from
# its metadata; this covers what models habitually append.
LENGTH_UNITS: dict[str, tuple[str, ...]] = {
    "mm": ("mm", "millimeter", "millimeters", "millimetre", "millimetres", "毫米"),
    "cm": ("cm", "centimeter", "centimeters", "centimetre", "centimetres", "厘米"),
    "dm": ("dm", "decimeter", "decimeters", "decimetre", "decimetres", "分米"),
    "m": ("m", "meter", "meters", "metre", "metres", "米"),
    "km": ("km", "kilometer", "kilometers", "kilometre", "kilometres", "千米", "公里"),
    "in": ("in", "inch", "inches"), "ft": ("ft", "foot", "feet"), "yd": ("yd", "yard", "yards"),
    "mi": ("mi", "mile", "miles"), "nmi": ("nmi", "nautical mile", "nautical miles", "海里"),
}
OTHER_UNITS: dict[str, tuple[str, ...]] = {
    "mg": ("mg", "milligram", "milligrams", "毫克"), "g": ("g", "gram", "grams", "克"),
    "kg": ("kg", "kilogram", "kilograms", "千克", "公斤"), "lb": ("lb", "lbs", "pound", "pounds"),
    "s": ("s", "sec", "secs", "second", "seconds", "秒"), "min": ("min", "mins", "minute", "minutes", "分钟"),
    "h": ("h", "hr", "hrs", "hour", "hours", "小时"), "day": ("day", "days", "天"), "week": ("week", "weeks"),
    "year": ("year", "years", "年"), "ml": ("ml", "milliliter", "milliliters", "millilitre", "millilitres", "毫升"),
    "l": ("l", "liter", "liters", "litre", "litres", "升"), "rad": ("rad", "rads", "radian", "radians"),
    "unit": ("unit", "units"),  # generic: only its power is compared (units^2 vs units^3), see compare
}
STRIP_ONLY_UNITS: tuple[str, ...] = (  # stripped, never compared: money, counts, rates, degree words
    "dollars", "cents", "euros", "degrees", "km/h", "m/s", "mph", "kmh", "people", "students", "ways",
    "times", "元", "个", "度",
)
_UNIT_NAMES = {name: key for table in (LENGTH_UNITS, OTHER_UNITS) for key, names in table.items() for name in names}
_POWERED = tuple(f"{u}^{e}" for u in ("mm", "cm", "dm", "m", "km", "in", "ft", "units") for e in (2, 3))
_UNIT_WORDS = tuple(sorted(
    {n for n in _UNIT_NAMES if len(n) > 1 and n.isascii()} | set(_POWERED)
    | {f"{w} {u}" for w in ("sq", "square") for u in ("cm", "m", "units")}
    | {u for u in STRIP_ONLY_UNITS if u.isascii()}, key=len, reverse=True))
# glued to the number ("6cm", "4\pi cm^{2}", "10米"): abbreviations of two letters or more and CJK units
_GLUED_UNITS = tuple(sorted(
    {n for n in _UNIT_NAMES if (not n.isascii()) or (2 <= len(n) <= 3 and n.isalpha() and n != "in")}
    | {u for u in STRIP_ONLY_UNITS if not u.isascii()}
    | {"平方" + n for n in ("米", "厘米", "毫米", "千米")}, key=len, reverse=True))
_TEXT_CMDS = r"(?:text|textnormal|textrm|textbf|textit|mathrm|mbox)"
_UNIT_TAIL_RE = re.compile(
    rf"^(?P<num>.*?(?:[\d}}.]|\\pi))\s*(?:\\{_TEXT_CMDS}\s*\{{\s*~?\s*[^{{}}]*\}}\s*(?:\^\s*\{{?\d\}}?)?|\s(?i:"
    + "|".join(re.escape(u) for u in _UNIT_WORDS) + r")\.?|(?:"
    + "|".join(re.escape(u) for u in _GLUED_UNITS) + r")(?:\s*\^\s*\{?\s*[23]\s*\}?|[²³])?)$"
)


# After an expression (not just a number) only unit words of five letters or more are dropped:
# short ones (in, m, ft) could be a variable's name.
_UNIT_AFTER_EXPR_RE = re.compile(
    r"^(?P<num>.*[A-Za-z0-9})])\s+(?i:"
    + "|".join(re.escape(u) for u in _UNIT_WORDS if len(u) >= 5 and u.isalpha())
    + r")\.?$"
)


@dataclass(frozen=True)
class Normalized:
    """A normalised answer and what the normaliser removed from it."""

    text: str
    percent: bool = False
    degree: bool = False
    unit: str | None = None
    """The unit text stripped from the end (`\\mathrm{~cm}^{2}`), if any."""


_TEXT_SEP_RE = re.compile(r"\\text\s*\{\s*(,|;|and)\s+(?=[A-Za-z])")
_EQUATION_ENV_RE = re.compile(r"\\(?:begin|end)\s*\{equation\*?\}")
# A trailing range of an integer parameter is a condition on a family of answers, not an answer:
# "(n=1,2,3,\ldots)", ", k=0,1,2,..." (its dots may be gone with a final period), "k \in \mathbb{Z}"
_PARAM_RANGE_RE = re.compile(  # on basic() output (single spaces): ` ?` keeps the scan linear
    r"(?:[,;] ?| |(?=\())(?:(?:\\text\{ ?(?:for|where) ?\}|for|where) )?\(? ?"
    r"(?:[a-zA-Z] ?= ?(?:-?\d+ ?, ?){2,5}(?:\\ldots|\.{3})?|[a-zA-Z] ?\\in ?(?:\\mathbb ?)?\{?[NZ]\}?[*+]?)"
    r" ?\)?$")
# A matrix/array/aligned environment whose every row is an assignment stacks a list (b=-2 \\ c=-3)
_STACK_ENV_RE = re.compile(r"^\\begin\{(matrix|array|aligned|gathered)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.DOTALL)
_PLAIN_RE = re.compile(r"[A-Za-z0-9 .,+\-/()^=]*")
_CIRCLED_RE = re.compile(r"\s*[\u2460-\u2473]\s*")  # circled digits 1..20
_BARE_NEG_EXP_RE = re.compile(r"\^\s*-\s*(\d+)(?![\d.])")


@lru_cache(maxsize=16384)  # golds and option texts recur across samples; pure function of `s`
def basic(s: str) -> str:
    """Remove formatting that never carries meaning (dollars, spacing, \\left, control chars)."""
    if _PLAIN_RE.fullmatch(s):  # common case: nothing to remove but spacing and a final period
        return re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    s = _CTRL_RE.sub(" ", s)
    s = s.replace("\\_", "_")  # markdown-escaped subscript (mv\_0)
    s = s.replace("`", "")  # markdown code quotes around LaTeX (`$`\\sqrt{2}`$`) carry no meaning
    s = _BARE_NEG_EXP_RE.sub(r"^{-\1}", s)  # 10^-5: TeX reads 10^{-}5; every writer means 10^{-5}
    circled = bool(_CIRCLED_RE.search(s))
    if circled:  # "①1.2 Pa\u3000②450 L": numbered sub-answers (Gaokao) are a comma list
        s = _CIRCLED_RE.sub(", ", s)
    for k, v in _UNICODE.items():
        if k in s:
            s = s.replace(k, v)
    s = s.strip().rstrip(".")  # "\\[x\\]." : the sentence's period before the delimiters
    s = s.replace("\\$", "").replace("$", "").replace("\\(", "").replace("\\)", "")
    s = re.sub(r"^\\[\[(]|\\[\])]$", "", s.strip())
    s = _EQUATION_ENV_RE.sub("", s)  # \begin{equation} x \end{equation}: display markup only
    s = _TEXT_SEP_RE.sub(r"\1 \\text{", s)  # "\text{, local minimum: }" -> ", \text{local minimum: }"
    if circled:
        s = re.sub(r"^[\s,]+", "", s)
    s = re.sub(r"(?<!\\)\\!", "", s)  # negative thin space (32,\!348)
    s = _SPACE_CMDS_RE.sub(" ", s)
    s = _LEFT_RIGHT_RE.sub("", s)
    for pat, rep in _CMD_ALIASES:
        s = pat.sub(rep, s)
    s = re.sub(r"\{,\}", ",", s)  # 1{,}000
    s = s.replace("{}", "")
    s = re.sub(r"\s+", " ", s).strip()
    return s.rstrip(".。;").strip()


def strip_text_wrappers(s: str) -> str:
    """`\\text{Yes}` -> `Yes` (innermost first; a few passes cover nesting)."""
    for _ in range(4):
        new = _TEXT_WRAP_RE.sub(r"\1", s)
        if new == s:
            break
        s = new
    return s.strip()


def strip_unit(s: str, unit: str | None) -> tuple[str, str | None]:
    """Drop the benchmark's unit (when given) and a trailing unit word or `\\text{...}` after a
    number; returns the rest and the text removed (None when nothing was)."""
    removed: str | None = None
    if unit:
        u = strip_text_wrappers(basic(unit)).strip()
        # whole unit only: the item's "m" is not the tail of a predicted "cm"
        if u and s.endswith(u) and s[: -len(u)].strip() and not (u[0].isalpha() and s[: -len(u)][-1:].isalpha()):
            removed = s[-len(u):]
            s = s[: -len(u)].rstrip()
            s = re.sub(r"\\(?:text|mathrm|mbox)\s*\{\s*\}$", "", s).rstrip()
    for _ in range(2):
        m = _UNIT_TAIL_RE.match(s) or _UNIT_AFTER_EXPR_RE.match(s)
        if not m:
            break
        removed = s[m.end("num"):] + (" " + removed if removed else "")
        s = m.group("num").rstrip()
    return s, removed


_UNIT_POWER_RE = re.compile(r"^(?:(square|sq|cubic|cu|平方|立方)\b\.?\s*)?([a-z]+(?: miles?)?|[\u4e00-\u9fff]+)\s*(?:\^\s*\{?\s*([1-9])\s*\}?|(²|³)|\s+(squared|cubed))?$")


def unit_key(text: str | None) -> tuple[str, int] | None:
    """(`cm`, 2) for `\\mathrm{~cm}^{2}`, `square centimeters`, `sq cm`; None for a unit this
    small table does not know (then units are not compared: `units^2`, `N/m`, `mph`)."""
    if not text:
        return None
    t = strip_text_wrappers(text.replace("~", " ")).replace("{", "").replace("}", "")
    t = re.sub(r"\s+", " ", t).strip().rstrip(".").strip().lower()
    if len(t) > 40:
        return None
    m = _UNIT_POWER_RE.match(t)
    if not m:
        return None
    word, name, exp, sup, tail = m.groups()
    key = _UNIT_NAMES.get(name)
    if key is None:
        return None
    powers = [int(e) if e else 2 if w in ("square", "sq", "squared", "²", "平方") else 3
              for w, e in ((word, None), (tail, None), (sup, None), (None, exp)) if w or e]
    if len(powers) > 1 or (powers and key not in LENGTH_UNITS and key != "unit"):
        return None
    return key, powers[0] if powers else 1


_GOLD_UNIT_RE = re.compile(r"[\d}]\s*\\(?:text|mathrm|mbox)\s*\{\s*~?\s*([^{}]+?)\s*\}\s*$")


def gold_unit(gold: str) -> str | None:
    """The unit a gold spells out at its end (`63.3 \\mathrm{~g}` -> `g`), to strip it bare from predictions."""
    m = _GOLD_UNIT_RE.search(basic(gold))
    return m.group(1) if m else None


_MEMBER_RE = re.compile(r"^\s*[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*\\in\s+(?=[\[(\\])")
# "t(0,4]": a variable right before a half-open interval (a call would close with ')'), \in lost
_MEMBER_BARE_RE = re.compile(r"^\s*[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*(?=(?:\([^()\[\]]*\]|\[[^()\[\]]*\))$)")


def strip_membership(s: str) -> str:
    """`x \\in [2, 5]` -> `[2, 5]` (a lone variable's membership in an interval or set)."""
    m = _MEMBER_RE.match(s) or _MEMBER_BARE_RE.match(s)
    return s[m.end():].strip() if m else s


_PROB_LABEL_RE = re.compile(r"^\s*(P\s*\(\s*[A-Za-z]\s*=\s*[\w.\\{}-]+\s*\))\s*=\s*([^=<>]+)$")


def split_label(s: str) -> tuple[str | None, str]:
    """(`x`, `3`) for `x = 3`, (`domain`, `[2, 5)`) for `domain: [2, 5)`, else (None, s) with a
    membership prefix (`x \\in`) dropped. The label is the left side of one `=` when it is a lone
    variable (incl. `f(x)`, `a_1`, `\\langle H\\rangle`), a label in words ("Weight", "S.A.") or
    nothing (`=7/4`); with several `=`, the first of a chain of lone names (`p = f(t) = ...`)."""
    s = strip_membership(s)
    m = _PROB_LABEL_RE.match(s)  # "P(X=2)=0.384": a probability's label, not an equation
    if m:
        return m.group(1).strip(), m.group(2).strip()
    m = _COLON_LABEL_RE.match(s)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    if "=" not in s or any(op in s for op in ("\\leq", "\\geq", "<", ">", "\\neq")):
        return None, s
    *lhs, rhs = s.split("=")
    if len(lhs) > 1:  # p = f(t) = ...: a chain of names before one value
        ok = all(_ASSIGN_LHS_RE.match(x) for x in lhs)
        return (lhs[0].strip(), rhs.strip()) if ok and rhs.strip() else (None, s)
    if rhs.strip() and (_ASSIGN_LHS_RE.match(lhs[0]) or _LABEL_RE.match(lhs[0]) or not lhs[0].strip()):
        return lhs[0].strip() or None, rhs.strip()
    return None, s


def strip_assignment(s: str) -> str:
    """`x = 3` -> `3`, `domain: [2, 5)` -> `[2, 5)` (see `split_label`)."""
    return split_label(s)[1]


def label_key(label: str) -> str:
    """Labels compare without braces or spaces (`a_{1}` is `a_1`), words without case."""
    k = re.sub(r"[{}\s]", "", strip_text_wrappers(label))
    return k.lower() if len(re.sub(r"_.*", "", k)) > 1 else k


_PLAIN_PI_RE = re.compile(r"(?<![A-Za-z\\])pi(?![A-Za-z])")


@lru_cache(maxsize=16384)
def normalize(s: str, *, unit: str | None = None) -> Normalized:
    """Canonical answer text plus flags for a stripped percent sign or degree mark."""
    s = basic(s)
    if "pi" in s:  # plain-text pi ("9pi", "4 * pi") is the constant, never p*i
        s = _PLAIN_PI_RE.sub(r"\\pi ", s).strip()
    if s.startswith("\\boxed{") and s.endswith("}"):
        s = s[7:-1].strip()
    s = _unstack(s)
    rest = _PARAM_RANGE_RE.sub("", s)
    if rest.strip():
        s = rest.strip()
    if unit and basic(unit) in ("%", "\\%"):
        unit = None  # a percent unit is handled as a percent, below
    s, stripped = strip_unit(s, unit)
    degree = bool(_DEGREE_RE.search(s))
    if degree:
        s = _DEGREE_RE.sub("", s).replace("{}", "").strip()
    percent = bool(_PERCENT_RE.search(s)) and s.count("%") <= 1  # "21%, 2%": per element, later
    if percent:
        s = _PERCENT_RE.sub("", s).strip()
    s, stripped2 = strip_unit(s, unit)
    s = strip_text_wrappers(s) if re.fullmatch(r"\s*\\(?:text|textbf|mathrm|mbox)\s*\{[^{}]*\}\s*", s) else s
    return Normalized(text=s.rstrip(".").strip(), percent=percent, degree=degree, unit=stripped2 or stripped)


def _unstack(s: str) -> str:
    """`\\begin{matrix} b=-2,\\\\ c=-3 \\end{matrix}` -> `b=-2, c=-3` (rows that all assign)."""
    m = _STACK_ENV_RE.match(s)
    if not m:
        return s
    rows = [r.replace("&", "").strip().rstrip(",").strip() for r in re.split(r"\\\\", m.group(2))]
    rows = [r for r in rows if r]
    return ", ".join(rows) if rows and all(r.count("=") == 1 for r in rows) else s


_SINGLE_SCRIPT_RE = re.compile(r"([_^])\{\s*(\w)\s*\}")


def latex_key(s: str) -> str:
    """`compact` that also ignores braces around a single-token script (`B_{0}` is `B_0`,
    `x^{2}` is `x^2`): notation only, so equal keys are equal answers without parsing."""
    return compact(_SINGLE_SCRIPT_RE.sub(r"\1\2 ", s)).replace("{}", "")


def compact(s: str) -> str:
    """Whitespace-free key for exact string comparison ("2 3" keeps its space: it is not "23")."""
    return re.sub(r"(?<!\d)\s+|\s+(?!\d)", "", s)


def split_top_level(s: str, seps: tuple[str, ...] = (",",)) -> list[str]:
    """Split on separators that are outside (), [], {} and \\{ \\}; LaTeX `\\,` never splits."""
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if depth == 0 and ch == "\\":  # separators spelled as commands (`\\text{ and }`)
            hit = next((sep for sep in seps if sep[0] == "\\" and s.startswith(sep, i)), None)
            if hit is not None:
                parts.append("".join(cur).strip())
                cur = []
                i += len(hit)
                continue
        if ch == "\\" and i + 1 < n:
            cur.append(s[i:i + 2])
            if s[i + 1] in "{":
                depth += 1
            elif s[i + 1] in "}":
                depth -= 1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if depth == 0:
            hit = next((sep for sep in seps if s.startswith(sep, i)), None)
            if hit is not None:
                parts.append("".join(cur).strip())
                cur = []
                i += len(hit)
                continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur).strip())
    return parts


def balanced(s: str) -> bool:
    """Braces, brackets and parentheses nest correctly (intervals like `[1,2)` excepted by callers)."""
    depth = 0
    for ch in s.replace("\\{", "").replace("\\}", ""):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def expand_pm(items: list[str]) -> list[str]:
    """`a \\pm b` -> `a + b`, `a - b` (each element once; several \\pm multiply out, capped)."""
    out: list[str] = []
    for it in items:
        if "\\pm" not in it:
            out.append(it)
            continue
        variants = [it]
        while any("\\pm" in v for v in variants) and len(variants) < 16:
            v = variants.pop(0)
            variants += [v.replace("\\pm", "+", 1), v.replace("\\pm", "-", 1)]
        out.extend(re.sub(r"^\+", "", v.replace("=+", "=").strip()) for v in variants)
    return out
