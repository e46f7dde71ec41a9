"""Multiple choice: letters in their common forms, option text, or the option's value."""

from __future__ import annotations

import re

from sophia_eval.verify.normalize import basic, compact, normalize, strip_text_wrappers
from sophia_eval.verify.numbers import parse_number

_LIST_SEP_RE = re.compile(r"[\s,;、/&()]+|\band\b|\bor\b|和|或")
MAX_CHOICE_CHARS = 500  # longer "answers" are prose; only the named-option search applies
# "B", "(B)", "B.", "B:", "B) text", "Option B": a letter followed by punctuation or the end.
# "A triangle ..." is not a choice of A: a bare space after the letter needs the option's text.
_LEADING_LETTER_RE = re.compile(r"^(?:option|choice|answer|选项)?\s*[(\[]?([A-Z])(?:[)\].:：]|\s*$|\s+[-–:])", re.IGNORECASE)
_LETTER_SPACE_RE = re.compile(r"^([A-Z])\s+(.+)$")
_NAMED_LETTER_RE = re.compile(r"\b(?i:option|choice|answer)s?(?:\s+(?i:is)|\s*:)?\s*[(\[]?([A-Z])\b[)\]]?")
_OPTION_PREFIX_RE = re.compile(r"^\s*\(?[A-Z]\s*[).:：]\s*")
_NOT_APPLICABLE_RE = re.compile(r"\s*n\s*[./]\s*a\.?\s*", re.IGNORECASE)
# "C (145°)", "C（36°）", "H (because ...)", "(A) C": a letter with text it states about its choice
_LETTER_WITH_TEXT_RE = re.compile(
    r"^([A-Z])\**\s*[(（]([^()（）]*)[)）]\s*$|^[(（]([A-Z])[)）]\s+(\S.*)$", re.DOTALL)
_LETTER_THEN_WORD_RE = re.compile(r"^([B-HJ-Z])\s+[a-z]{2,}\b")
_LONE_CAPITAL_RE = re.compile(r"(?<![A-Za-z'’])([A-Z])(?![A-Za-z'’])")
_PAREN_LETTER_RE = re.compile(r"[(（]([A-Z])[)）]")


def _letter_list(s: str) -> list[str] | None:
    """`B`, `(B)`, `A, C`, `A and C`, `A or B` -> letters; None if anything else is present.

    Tokenised rather than one regex: nested optional separators backtrack exponentially.
    """
    tokens = [t for t in _LIST_SEP_RE.split(s) if t]
    if tokens and all(len(t) == 1 and "A" <= t <= "Z" for t in tokens):
        return tokens
    return None


def gold_letters(gold: str, options: tuple[str, ...] | None) -> list[str] | None:
    """Letters of a choice gold (`B`, `A, C`, `(D)`); option text maps to its letter; else None."""
    g = strip_text_wrappers(basic(gold)).strip()
    if re.fullmatch(r"\(?[A-Z]\)?", g):  # one capital letter is the letter, even if an option's text is "E"
        return [g.strip("()")]
    if options and not _bare_letters(options):  # option text first: "R, D, N" may be an option
        key = compact(normalize(g).text).lower()
        for i, opt in enumerate(options):
            if compact(normalize(_OPTION_PREFIX_RE.sub("", opt)).text).lower() == key:
                return [chr(65 + i)]
    letters = _letter_list(g) if len(g) <= MAX_CHOICE_CHARS else None
    if letters:
        return sorted(set(letters))
    return None


def pred_letters(answer: str, options: tuple[str, ...] | None, *, multi: bool) -> list[str] | None:
    """Letters the model chose, in order of appearance (duplicates removed), or None if none found."""
    a = strip_text_wrappers(basic(answer[-MAX_CHOICE_CHARS:] if len(answer) > MAX_CHOICE_CHARS else answer))
    a = a.strip().strip("*").strip()
    if not a:
        return None
    n_opts = len(options) if options else 26
    valid = {chr(65 + i) for i in range(max(n_opts, 1))}
    if _NOT_APPLICABLE_RE.fullmatch(a):  # N/A, n/a, N.A.: an abbreviation, not option A
        return None
    single = re.fullmatch(r"\(?([A-Z])\)?", a) or re.fullmatch(r"\(?([a-z])\)?", a)
    if single:  # one letter is the letter (`(d)`, a bare `a`), even when some option's text is that letter
        letter = single.group(1).upper()
        return [letter] if letter in valid else None
    stated = _LETTER_WITH_TEXT_RE.match(a)
    if stated and (stated.group(1) or stated.group(3)).upper() in valid:
        return _with_stated_text((stated.group(1) or stated.group(3)).upper(), stated.group(2) or stated.group(4),
                                 options, valid)
    # option text or value next: "Paris", "5 cm", or "R, D, N" when options spell them out
    by_text = _match_option_text(a, options)
    if by_text:
        return by_text
    letters = _letter_list(a)
    if letters:  # an out-of-range letter makes the list invalid, not shorter
        return list(dict.fromkeys(letters)) if set(letters) <= valid else None
    if multi and re.fullmatch(r"[A-Z]{2,10}", a):  # "AC"
        found = list(dict.fromkeys(a))
        return found if set(found) <= valid else None
    m = _LEADING_LETTER_RE.match(a)
    if m and m.group(1).upper() in valid and (m.group(1).isupper() or a[:6].lower().startswith(("option", "choice"))):
        letter = m.group(1).upper()
        rest = a[m.end():]
        # "A or B": a hedge names a second letter right after the first
        more = re.match(r"\s*(?:or|and/or|或|/)\s*\(?([A-Z])\b", rest)
        if more:
            return [letter, more.group(1)]
        return _with_stated_text(letter, rest, options, valid) if rest.strip() else [letter]
    m = _LETTER_THEN_WORD_RE.match(a)
    if m and m.group(1) in valid:  # "B as it is higher": a letter that is not an English word (A, I)
        others = [x for x in _LONE_CAPITAL_RE.findall(a[m.end(1):]) if x in valid and x != m.group(1)]
        return list(dict.fromkeys([m.group(1), *others]))  # "B or maybe C" names two options
    m = _LETTER_SPACE_RE.match(a)
    if m and options and ord(m.group(1)) - 65 < len(options):
        opt = _OPTION_PREFIX_RE.sub("", options[ord(m.group(1)) - 65])
        if compact(normalize(opt).text).lower() == compact(normalize(m.group(2)).text).lower():
            return [m.group(1)]  # "B 5 cm" where option B is "5 cm"
    named = list(dict.fromkeys(_NAMED_LETTER_RE.findall(a)))
    named = [x for x in named if x in valid]
    return named or None


def _with_stated_text(letter: str, text: str, options: tuple[str, ...] | None, valid: set[str]) -> list[str]:
    """The letter, plus every other option the text after it names (`C (9)` when 9 is option D,
    `(A) PQ, (C) PS`): a letter contradicted by its own stated value, or two options, is not one choice."""
    others = [x for x in _PAREN_LETTER_RE.findall(text) if x in valid and x != letter]
    by_text = _match_option_text(text.strip().strip("*").strip(), options) or []
    if by_text and letter not in by_text:
        others += by_text
    return list(dict.fromkeys([letter, *others]))


def _match_option_text(answer: str, options: tuple[str, ...] | None) -> list[str] | None:
    if not options or _bare_letters(options):
        return None
    key_norm = normalize(answer)
    key = compact(key_norm.text).lower()
    num = parse_number(key_norm.text)
    hits: list[str] = []
    texts: set[str] = set()
    for i, opt in enumerate(options):
        o = normalize(_OPTION_PREFIX_RE.sub("", opt))
        on = parse_number(o.text)
        if compact(o.text).lower() == key or (num is not None and on is not None and on.value == num.value):
            hits.append(chr(65 + i))
            texts.add(compact(o.text).lower())
    # duplicated options (MathVista has some) are one choice: the first letter stands for them
    return hits[:1] if hits and len(texts) == 1 else None


def _bare_letters(options: tuple[str, ...]) -> bool:
    """Options that are just their own letters (MathVision items whose choices are in the image)."""
    return all(o.strip().strip("()") == chr(65 + i) for i, o in enumerate(options))


def choice_match(gold: list[str], pred: list[str] | None, *, multi: bool) -> tuple[str, str]:
    """(status, reason) for letter sets; several letters for a single-answer item never pay."""
    if not pred:
        return "no_answer", "no option letter found"
    if multi:
        ok = sorted(set(pred)) == gold
        return ("correct" if ok else "incorrect"), f"chose {','.join(pred)}; gold {','.join(gold)}"
    if len(pred) > 1:
        return "incorrect", f"several options chosen ({', '.join(pred)}) for a single-answer item"
    ok = pred == gold
    return ("correct" if ok else "incorrect"), f"chose {pred[0]}; gold {gold[0]}"
