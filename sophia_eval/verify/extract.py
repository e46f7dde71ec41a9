"""Answer extraction: model response -> answer string, steered by a per-benchmark policy (data).

Every scan here is linear in the response length: markers are found with `rfind` or one regex
pass that keeps positions only (no copy of the text per match), and only the last
MAX_RESPONSE_CHARS characters are scanned at all (the answer is at the end; longer responses
are garbage or an attack). This bounds the calling thread's work before any comparison.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_RESPONSE_CHARS = 200_000
"""Only the tail of a longer response is searched for the answer (the in-thread scan cap)."""

_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
# "(B)" or "option B" / "answer: B" near the end of a response (choice policies only)
_CHOICE_TAIL_RE = re.compile(r"\(([A-Z])\)(?![\w(])|\b(?i:answer|option|choice)\s*(?i:is)?\s*:?\s*\**([A-Z])\b(?![a-z'’])")
# A line that is an option letter, alone or followed by its text: "**B**", "C. 12", "(D) F", "J. A dramatic ..."
_LETTER_LINE_RE = re.compile(r"^[\s*#>]*(?:\(([A-Z])\)|([A-Z])(?:\*\*|[.):：](?!\d)|\s*$))")
_DEFAULT_PHRASES = (
    r"final answer\s*(?:is|:)",
    r"\banswer\s+(?:to (?:the|this) question\s+)?(?:is|would be|should be)\b",  # the / the correct / my answer is
    r"\b(?:correct|right|best) (?:option|choice)\s+(?:is|would be)\b",
    r"\boption letter\s+is\b",
    r"answer\s*:",
    r"答案是",
    r"答案为",
    r"最终答案[是为：:]?",
    r"答案[：:]",
    r"选项[为是]",
)


@dataclass(frozen=True)
class ExtractionPolicy:
    """How to find the answer in a model response. One per benchmark, named in its spec."""

    name: str = "default"
    """Registry name of the policy."""
    strip_think: bool = True
    """Drop everything up to the last `</think>`; a response whose think block never closes has no answer."""
    boxed: bool = True
    """Look for `\\boxed{...}` / `\\fbox{...}` (nested braces; all boxes are returned to the verifier)."""
    answer_tags: bool = True
    """Look for `<answer>...</answer>` (the last closed pair)."""
    phrases: tuple[str, ...] = _DEFAULT_PHRASES
    """Regexes of phrases ("the answer is", "the correct option is", Chinese equivalents) the answer follows; last one wins."""
    whole_text_max_chars: int = 200
    """A single-line response no longer than this, with no marker, is the answer itself if it is not prose."""
    last_number: bool = False
    """Fall back to the last number in the response (lenient; off by default: it rewards guessing)."""
    choice_letters: bool = False
    """Also accept an option letter in the common forms `(B)`, `Option B`, a line `B.`/`**B**` (choice sets)."""
    phrase_patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("ExtractionPolicy.name must be a non-empty string")
        if self.whole_text_max_chars < 0:
            raise ValueError("ExtractionPolicy.whole_text_max_chars must be >= 0 (0 disables it)")
        try:
            pats = tuple(re.compile(p, re.IGNORECASE) for p in self.phrases)
        except re.error as exc:
            raise ValueError(f"ExtractionPolicy {self.name!r}: bad phrase regex: {exc}") from exc
        object.__setattr__(self, "phrase_patterns", pats)

    def __reduce__(self):  # compiled patterns are rebuilt on unpickle
        return (ExtractionPolicy, (self.name, self.strip_think, self.boxed, self.answer_tags,
                                   self.phrases, self.whole_text_max_chars, self.last_number,
                                   self.choice_letters))


_POLICIES: dict[str, ExtractionPolicy] = {
    "default": ExtractionPolicy(),
    "choice": ExtractionPolicy(name="choice", choice_letters=True),
    # benchmarks whose official protocol reads the last number of a free-form reply (MathVista)
    "last_number": ExtractionPolicy(name="last_number", last_number=True, choice_letters=True),
    "lenient": ExtractionPolicy(name="lenient", last_number=True, choice_letters=True,
                                whole_text_max_chars=400),
    "strict": ExtractionPolicy(name="strict", phrases=(), whole_text_max_chars=0, answer_tags=False),
}


def get_policy(name: "str | ExtractionPolicy | None") -> ExtractionPolicy:
    """Policy by name (`default`, `choice`, `last_number`, `lenient`, `strict`); a policy object passes through."""
    if name is None:
        return _POLICIES["default"]
    if isinstance(name, ExtractionPolicy):
        return name
    try:
        return _POLICIES[name]
    except KeyError:
        raise KeyError(f"unknown extraction policy {name!r}; known: {sorted(_POLICIES)}") from None


_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
_BOX_TOKEN_RE = re.compile(r"(?!\\(?:boxed|fbox)(?![a-zA-Z]))[^\s$]+")  # `\boxed 5`; `\boxed \boxed` boxes nothing
# A box that holds only spacing or a \phantom is the question's blank ("the number in the box"), not an answer
_BLANK_BOX_RE = re.compile(r"(?:\s|~|\\[,;:! ]|\\q?quad|\\(?:h|v)?phantom\{[^{}]*\}|\\square|\\Box|_+)*")


def box_spans(text: str) -> tuple[list[tuple[int, int, str]], int | None]:
    """(start, end, content) of every closed `\\boxed{...}`/`\\fbox{...}` in order, and the
    position of the content of an unclosed box at the end (a truncated response), if any.

    Nested braces honoured, nested boxes count once (as the outer one), blank boxes skipped.
    One pass: linear in the length of `text`.
    """
    out: list[tuple[int, int, str]] = []
    n = len(text)
    pos = 0
    for m in _BOX_RE.finditer(text):
        if m.start() < pos:
            continue  # inside a box already taken
        j = m.end()
        while j < n and text[j] == " ":
            j += 1
        if j < n and text[j] == "{":
            depth, k = 0, j
            while k < n:
                ch = text[k]
                if ch == "\\" and k + 1 < n:  # escaped brace \{ or \} does not count
                    k += 2
                    continue
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            if k >= n:  # unbalanced: nothing after this can close either
                return out, j + 1
            content = text[j + 1:k].strip()
            if content and not _BLANK_BOX_RE.fullmatch(content):
                out.append((m.start(), k + 1, content))
            pos = k + 1
        elif j > m.end() and j < n and m.group(0) == "\\boxed":  # `\boxed 5`
            tok = _BOX_TOKEN_RE.match(text, j)
            if tok:
                out.append((m.start(), tok.end(), tok.group(0)))
                pos = tok.end()
    return out, None


def find_boxed(text: str) -> list[str]:
    """Contents of every closed `\\boxed{...}` / `\\fbox{...}` in order (see `box_spans`)."""
    return [c for _, _, c in box_spans(text)[0]]


_ALTERNATIVE_RE = re.compile(r"\b(?:or|either|maybe|perhaps|possibly|alternatively|otherwise)\b|或", re.IGNORECASE)
_CONCLUSION_RE = re.compile(r"(?<!\.)[.。;；](?:\s|$)|\n|\b(?:so|therefore|thus|hence|finally)\b|所以|因此", re.IGNORECASE)


def final_box(text: str, policy: "ExtractionPolicy | str | None" = None) -> str | None:
    """The last box when it concludes the response after different intermediate boxes
    (`15/3=\\boxed{5} pieces, so we need \\boxed{4} cuts`): the text since the previous box with
    another value starts a new sentence or a conclusion (so, therefore, ...) and offers no
    alternative (or, maybe, ...). None when the boxes read as alternatives (a hedge)."""
    body = _answer_region(text, get_policy(policy))
    if body is None:
        return None
    spans = box_spans(body)[0]
    if len(spans) < 2:
        return None
    last = spans[-1]
    prev = next((s for s in reversed(spans[:-1]) if s[2] != last[2]), None)
    if prev is None:
        return None
    gap = body[prev[1]:last[0]]
    if _ALTERNATIVE_RE.search(gap) or not _CONCLUSION_RE.search(gap):
        return None
    return last[2]


def strip_think(text: str) -> str | None:
    """Text after the last `</think>`; None when a think block opens and never closes."""
    end = text.rfind("</think>")
    if end >= 0:
        return text[end + len("</think>"):]
    if "<think>" in text:
        return None
    return text


def _answer_region(text: str, pol: ExtractionPolicy) -> str | None:
    """The part of the response searched: its tail, after the think block (None: unclosed think)."""
    if not isinstance(text, str):
        return None
    if len(text) > MAX_RESPONSE_CHARS:
        text = text[-MAX_RESPONSE_CHARS:]
    return strip_think(text) if pol.strip_think else text


def last_tag(text: str, tag: str = "answer") -> str | None:
    """Content of the last closed `<tag>...</tag>`: the last closing tag, then its opener (linear)."""
    low = text.lower()
    end = low.rfind(f"</{tag}>")
    if end < 0:
        return None
    start = low.rfind(f"<{tag}>", 0, end)
    return None if start < 0 else text[start + len(tag) + 2:end]


_DOLLAR_RE = re.compile(r"\$+([^$]+?)\$+")
_PAREN_MATH_RE = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_REASON_RE = re.compile(r"\s+(?:since|because|as|which|given|due to|when|where)\s.*$", re.IGNORECASE)
_CLOSERS_RE = re.compile(r"(?:\s*(?:\\\]|\\\)|\$+|\*\*|['\"“”‘’]))+\s*$")


def _clean_tail(s: str) -> str:
    s = s.strip().strip("'\"“”‘’").strip()
    m = _DOLLAR_RE.match(s) if s.startswith("$") else None  # "$x^2$." -> x^2
    if m:
        return m.group(1).strip()
    m = _PAREN_MATH_RE.match(s) if s.startswith("\\") else None
    if m:
        return (m.group(1) or m.group(2)).strip()
    s = s.split("\n", 1)[0].strip()
    s = re.sub(r"[.。](?:\s.*)?$", "", s)  # cut at the end of the sentence (a decimal point has no space after it)
    s = re.sub(r",\s+(?:[a-z]{3,}|[A-Z][a-z]{2,})\b.*$", "", s)  # "5, since ...": prose after a comma
    s = _REASON_RE.sub("", s)  # "7 since she ate 3": the reason is not part of the answer
    s = _CLOSERS_RE.sub("", s)  # "I} \\]": the closers of the display the phrase stood in
    while s.endswith("}") and s.count("}") > s.count("{"):
        s = s[:-1].rstrip()
    return s.strip().strip("*").strip("'\"“”‘’").strip()


# Prose: two or more words of three letters or more that are not maths (function names, units in
# \text are removed first). "There are 2 bars" is a sentence, never a product of letters.
_MATH_WORDS = frozenset("""sin cos tan cot sec csc log exp sqrt frac arcsin arccos arctan sinh cosh tanh
    lim max min gcd lcm det mod deg pi infty cdot times div left right text mathrm mathbf boxed and or
    not dfrac tfrac circ prime ldots cdots dots leq geq neq approx mathbb operatorname overline vec""".split())
_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")


def is_prose(s: str) -> bool:
    """True when `s` reads as a sentence rather than a mathematical answer."""
    words = [w for w in _WORD_RE.findall(s[:2000]) if w.lower() not in _MATH_WORDS]
    return len(words) >= 2


def extract_candidates(text: str, policy: "ExtractionPolicy | str | None" = None) -> list[str]:
    """Every answer the policy finds, in priority order (all boxes, or one phrase/tag answer)."""
    pol = get_policy(policy)
    body = _answer_region(text, pol)
    if not body:
        return []
    text = body
    if pol.boxed:
        spans, unclosed = box_spans(text)
        if spans:
            return [c for _, _, c in spans]
        if unclosed is not None:  # a truncated box: no answer, unless it already shows a letter
            letter = _LETTER_LINE_RE.match(text[unclosed:unclosed + 40]) if pol.choice_letters else None
            return [letter.group(1) or letter.group(2)] if letter else []
        if "\\boxed" in text or "\\fbox" in text:  # only blank boxes: the answer was never written
            return []
    if pol.answer_tags:
        inner = last_tag(text)
        if inner is not None and inner.strip():
            inner = inner.strip()
            boxes = find_boxed(inner) if pol.boxed else []
            return [boxes[-1] if boxes else _clean_tail(inner)]
    best = -1
    for pat in pol.phrase_patterns:
        for m in pat.finditer(text):  # positions only: no copy of the text per match
            best = max(best, m.end())
    if best >= 0:
        ans = _clean_tail(text[best:best + 2000].lstrip(" :：*"))
        if ans:
            return [ans]
    stripped = text.strip()
    if stripped and len(stripped) <= pol.whole_text_max_chars and "\n" not in stripped:
        ans = _clean_tail(stripped) or stripped
        if pol.choice_letters:
            letter = _LETTER_LINE_RE.match(ans)
            if letter:
                return [letter.group(1) or letter.group(2)]
        if not is_prose(ans):
            return [ans]
    if pol.choice_letters:
        letter = _choice_letter(text)
        if letter:
            return [letter]
    if pol.last_number:
        nums = _NUMBER_RE.findall(text[-2000:])
        if nums:
            return [nums[-1].rstrip(".,")]
    return []


def _choice_letter(text: str) -> str | None:
    """A letter the response ends on (`(B)`, `Answer: B`, a last line `**B**` / `C. 12`), else
    one its first line starts with (`J. A dramatic increase ...`)."""
    tail = text[-400:]
    hits = _CHOICE_TAIL_RE.findall(tail)
    if hits:
        return hits[-1][0] or hits[-1][1]
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    for line in (lines[-1:] if lines else []) + [text.lstrip()[:200].split("\n", 1)[0]]:
        m = _LETTER_LINE_RE.match(line)
        if m:
            return m.group(1) or m.group(2)
    return None


def extract_answer(text: str, policy: "ExtractionPolicy | str | None" = None) -> str | None:
    """The answer in `text` by `policy` (last box when there are several), or None."""
    cands = extract_candidates(text, policy)
    return cands[-1] if cands else None
