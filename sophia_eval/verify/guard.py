"""Bounds checked on the text before sympy sees it: size, nesting, huge powers, factorials, towers.

sympy evaluates `10^{10^{10}}` or `1000!!` eagerly inside C-level big-integer code that no
timeout can interrupt short of killing the process, so such inputs are refused up front.
"""

from __future__ import annotations

import math
import re

MAX_SYMBOLIC_CHARS = 600
MAX_DEPTH = 30
MAX_LITERAL_DIGITS = 300
MAX_RESULT_DIGITS = 3_000  # digits of b^e with numeric base and exponent
MAX_SYMBOLIC_EXPONENT = 200  # x^e with symbolic base: expansion cost grows with e
MAX_FACTORIAL = 500

_INT_RE = re.compile(r"\d+")
_FACT_RE = re.compile(r"(\d+)\s*(!+)")
_GROUP_FACT_RE = re.compile(r"[)}]\s*!")


def _group(s: str, i: int) -> tuple[str, int]:
    """The `{...}` group or single token starting at s[i]; returns (content, end index)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth = 0
        for k in range(i, len(s)):
            if s[k] == "{":
                depth += 1
            elif s[k] == "}":
                depth -= 1
                if depth == 0:
                    return s[i + 1:k], k + 1
        return s[i + 1:], len(s)
    if s[i] == "(":  # plain-text style x^(...)
        depth = 0
        for k in range(i, len(s)):
            depth += s[k] == "("
            depth -= s[k] == ")"
            if depth == 0:
                return s[i + 1:k], k + 1
        return s[i + 1:], len(s)
    m = re.match(r"\d+|\\[a-zA-Z]+|.", s[i:])
    return m.group(0), i + m.end()


def _log10_value(expr: str, depth: int = 0) -> float | None:
    """log10 of a non-negative integer/power literal like `10`, `2^{10}`; None when not literal."""
    expr = expr.strip()
    if _INT_RE.fullmatch(expr):
        return math.log10(int(expr)) if len(expr) < 300 and int(expr) > 0 else (0.0 if int(expr[:300] or 0) == 0 else float(len(expr)))
    if depth > 6 or "^" not in expr:
        return None
    base, _, rest = expr.partition("^")
    base = base.strip().strip("{}()")
    exp, end = _group(rest, 0)
    if end < len(rest.rstrip()):
        return None
    lb, le = _log10_value(base, depth + 1), _log10_value(exp, depth + 1)
    if lb is None or le is None:
        return None
    if le > 15:
        return math.inf
    return lb * 10 ** le


def check_bounds(s: str) -> str | None:
    """None when `s` is safe to hand to the parser, else the reason it is refused."""
    if len(s) > MAX_SYMBOLIC_CHARS:
        return f"answer longer than {MAX_SYMBOLIC_CHARS} characters"
    depth = best = 0
    for ch in s:
        if ch in "{([":
            depth += 1
            best = max(best, depth)
        elif ch in "})]":
            depth -= 1
    if best > MAX_DEPTH:
        return f"nesting deeper than {MAX_DEPTH}"
    for lit in _INT_RE.findall(s):
        if len(lit) > MAX_LITERAL_DIGITS:
            return f"number literal longer than {MAX_LITERAL_DIGITS} digits"
    for m in _FACT_RE.finditer(s):
        n, bangs = int(m.group(1)), len(m.group(2))
        if n > MAX_FACTORIAL or bangs > 2:
            return f"factorial of {n} ({m.group(2)}) refused"
    if _GROUP_FACT_RE.search(s) and "^" in s:
        return "factorial of a power refused"
    # a^b^c: LaTeX exponents are one token or a {group}; plain text (**) may be a longer number
    if re.search(r"\^\s*(?:\{[^{}]*\}|\w)\s*\^", s) or re.search(r"\*\*\s*(?:\([^()]*\)|[\w.]+)\s*\*\*", s):
        return "chained power a^b^c refused"
    if "\\uparrow" in re.sub(r"_\{\s*\\uparrow\s*\}", "", s):  # R_{\uparrow} is a name
        return "arrow notation refused"
    for m in re.finditer(r"\^|\*\*", s):
        exp, _ = _group(s, m.end())
        if exp.count("^") + exp.count("**") >= 2:
            return "power tower of height > 2 refused"
        base_m = re.search(r"(\d+)\s*\}?\s*$", s[: m.start()])
        le = _log10_value(exp)
        if le is None:
            continue  # symbolic exponent: sympy keeps it unevaluated
        if le == math.inf:
            return "exponent too large"
        e = 10 ** le
        if base_m:
            b = int(base_m.group(1)[-50:] or 0)
            if b > 1 and e * math.log10(b) > MAX_RESULT_DIGITS:
                return f"power with ~{e * math.log10(b):.3g} digits refused"
        elif e > MAX_SYMBOLIC_EXPONENT:
            return f"exponent {e:.3g} on a symbolic base refused"
    return None
