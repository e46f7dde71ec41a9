"""Fast, sound-for-"different" check without sympy: evaluate a small LaTeX subset with floats.

Only ever used to *reject*: two expressions whose values differ clearly at a probe point are not
equal. Equality is still decided exactly by sympy. Anything outside the subset (functions other
than \\sqrt, factorials, decimals, relations, ambiguous juxtapositions) returns None, and the
caller falls back to sympy, so a misreading here can only cost speed, never a verdict... except
by calling equal things different, which the subset is kept small and conventional to avoid.
"""

from __future__ import annotations

import cmath
import math
import re

_TOKEN_RE = re.compile(r"\s*(?:(\d+)|([a-zA-Z])(?:_(?:\{([a-zA-Z0-9]+)\}|([a-zA-Z0-9])))?|\\(frac|sqrt|pi|cdot|times)(?![a-zA-Z])|([-+*/^(){}\[\]]))")
_MAX_TOKENS = 200


class _Unsupported(Exception):
    pass


def _tokenize(s: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i = 0
    s = s.strip()
    while i < len(s):
        m = _TOKEN_RE.match(s, i)
        if not m or m.end() == i:
            raise _Unsupported
        num, var, sub1, sub2, cmd, op = m.groups()
        if num is not None:
            out.append(("num", num))
        elif var is not None:
            out.append(("var", var + "_" + (sub1 or sub2) if (sub1 or sub2) else var))
        elif cmd is not None:
            out.append(("cmd", cmd))
        else:
            out.append(("op", op))
        i = m.end()
        if len(out) > _MAX_TOKENS:
            raise _Unsupported
    return out


class _Parser:
    """expr := term (('+'|'-') term)*; term := factor (('*'|'/'|juxtaposition) factor)*;
    factor := ('-'|'+') factor | power; power := atom ('^' atom)?"""

    def __init__(self, tokens: list[tuple[str, str]], env: dict[str, complex]) -> None:
        self.t, self.i, self.env = tokens, 0, env

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _Unsupported
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        if self.take() != ("op", op):
            raise _Unsupported

    def parse(self) -> complex:
        v = self.expr()
        if self.peek() is not None:
            raise _Unsupported
        return v

    def expr(self) -> complex:
        v = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            w = self.term()
            v = v + w if op == "+" else v - w
        return v

    def term(self) -> complex:
        v = self.factor()
        while True:
            tok = self.peek()
            if tok in (("op", "*"), ("cmd", "cdot"), ("cmd", "times")):
                self.take()
                v *= self.factor()
            elif tok == ("op", "/"):
                self.take()
                d = self.factor()
                nxt = self.peek()
                if nxt is not None and (nxt[0] in ("num", "var") or nxt in (("op", "("), ("op", "{"), ("cmd", "frac"), ("cmd", "sqrt"), ("cmd", "pi"))):
                    raise _Unsupported  # a/bc, x/2y: readers disagree on the grouping
                if d == 0:
                    raise _Unsupported
                v /= d
            elif tok is not None and (tok[0] in ("num", "var") or tok in (("op", "("), ("op", "{"), ("cmd", "frac"), ("cmd", "sqrt"), ("cmd", "pi"))):
                if tok[0] == "num" and self.t[self.i - 1][0] == "num":
                    raise _Unsupported  # "2 3"
                v *= self.factor()
            else:
                return v

    def factor(self) -> complex:
        tok = self.peek()
        if tok in (("op", "-"), ("op", "+")):
            self.take()
            v = self.factor()
            return -v if tok[1] == "-" else v
        return self.power()

    def power(self) -> complex:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            nxt = self.peek()
            if nxt == ("op", "{") or nxt == ("op", "("):
                exp = self.atom()
            elif nxt is not None and nxt[0] == "num" and len(nxt[1]) == 1:
                self.take()
                exp = complex(int(nxt[1]))
            elif nxt is not None and nxt[0] == "var" and len(nxt[1]) == 1:
                self.take()
                exp = self.env[nxt[1]]
            else:
                raise _Unsupported
            if abs(exp) > 64 or (base == 0 and exp.real <= 0):
                raise _Unsupported
            if self.peek() == ("op", "^"):
                raise _Unsupported
            return base ** exp
        return base

    def atom(self) -> complex:
        kind, val = self.take()
        if kind == "num":
            if len(val) > 15:
                raise _Unsupported
            return complex(int(val))
        if kind == "var":
            if val == "e":
                return complex(math.e)
            if val == "i":
                raise _Unsupported  # imaginary unit or index: ambiguous
            return self.env[val]
        if kind == "cmd":
            if val == "pi":
                return complex(math.pi)
            if val == "frac":
                a = self.group()
                b = self.group()
                if b == 0:
                    raise _Unsupported
                return a / b
            if val == "sqrt":
                if self.peek() == ("op", "["):
                    raise _Unsupported
                return cmath.sqrt(self.group())
            raise _Unsupported
        if val in "({":
            v = self.expr()
            self.expect(")" if val == "(" else "}")
            return v
        raise _Unsupported

    def group(self) -> complex:
        tok = self.take()
        if tok == ("op", "{"):
            v = self.expr()
            self.expect("}")
            return v
        if tok[0] == "num" and len(tok[1]) == 1:  # \frac12
            return complex(int(tok[1]))
        if tok[0] == "var" and len(tok[1]) == 1:
            return self.env[tok[1]]
        raise _Unsupported


def _variables(tokens: list[tuple[str, str]]) -> set[str]:
    return {v for k, v in tokens if k == "var" and v not in ("e",)}


def clearly_different(a: str, b: str) -> bool:
    """True only when both parse in the subset and differ by > 1e-6 (relative) at a probe point."""
    if "." in a or "." in b:
        return False  # decimals bring rounding rules (gold places, tolerance): sympy decides
    try:
        ta, tb = _tokenize(a), _tokenize(b)
    except _Unsupported:
        return False
    names = _variables(ta)
    if names != _variables(tb) or len(names) > 6:
        return False
    for seed in (0.5772156649, 1.4142135623):
        env = {n: complex(seed + 0.3183098861 * k) for k, n in enumerate(sorted(names))}
        try:
            va, vb = _Parser(ta, env).parse(), _Parser(tb, env).parse()
        except (_Unsupported, KeyError, ZeroDivisionError, OverflowError, ValueError):
            return False
        scale = max(1.0, abs(va), abs(vb))
        if not (math.isfinite(scale)):
            return False
        if abs(va - vb) > 1e-6 * scale:
            return True
    return False
