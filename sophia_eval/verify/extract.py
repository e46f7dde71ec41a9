"""Answer extraction: model response -> answer string, steered by a per-benchmark policy (data)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sophia_eval.verify.types import MAX_RESPONSE_CHARS

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
# "(B)" or "option B" / "answer: B" near the end of a response (choice policies only)
_CHOICE_TAIL_RE = re.compile(r"\(([A-Z])\)(?![\w(])|\b(?i:answer|option|choice)\s*(?i:is)?\s*:?\s*\**([A-Z])\b(?![a-z])")
_ANSWER_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_DEFAULT_PHRASES = (
    r"final answer\s*(?:is|:)",
    r"\banswer\s+(?:is|would be|should be)\b",  # the / the correct / my answer is
    r"answer\s*:",
    r"答案是",
    r"答案为",
    r"最终答案[是为：:]?",
    r"答案[：:]",
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
    """Look for `<answer>...</answer>`."""
    phrases: tuple[str, ...] = _DEFAULT_PHRASES
    """Regexes of phrases ("the answer is", "my answer would be", Chinese equivalents) the answer follows; last one wins."""
    whole_text_max_chars: int = 60
    """A response no longer than this (single line) with no marker is taken as the answer itself."""
    last_number: bool = False
    """Fall back to the last number in the response (lenient; off by default)."""
    choice_letters: bool = False
    """Also accept a bare option letter in the common forms `(B)`, `B.`, `Option B` (choice sets)."""
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
    "lenient": ExtractionPolicy(name="lenient", last_number=True, choice_letters=True,
                                whole_text_max_chars=200),
    "strict": ExtractionPolicy(name="strict", phrases=(), whole_text_max_chars=0, answer_tags=False),
}


def get_policy(name: "str | ExtractionPolicy | None") -> ExtractionPolicy:
    """Policy by name (`default`, `choice`, `lenient`, `strict`); a policy object passes through."""
    if name is None:
        return _POLICIES["default"]
    if isinstance(name, ExtractionPolicy):
        return name
    try:
        return _POLICIES[name]
    except KeyError:
        raise KeyError(f"unknown extraction policy {name!r}; known: {sorted(_POLICIES)}") from None


_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")


def find_boxed(text: str) -> list[str]:
    """Contents of every `\\boxed{...}` / `\\fbox{...}` in order; nested braces honoured.

    An unclosed box (truncated response) is ignored rather than swallowing the rest of the text.
    Linear in the length of `text`.
    """
    out: list[str] = []
    n = len(text)
    pos = 0
    for m in _BOX_RE.finditer(text):
        if m.start() < pos:
            continue  # inside a box already taken (nested boxes count once, as the outer one)
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
                return out
            out.append(text[j + 1:k].strip())
            pos = k + 1
        elif j > m.end() and j < n and m.group(0) == "\\boxed":  # `\boxed 5`
            tok = re.match(r"[^\s$]+", text[j:])
            if tok:
                out.append(tok.group(0))
                pos = j + tok.end()
    return out


def strip_think(text: str) -> str | None:
    """Text after the last `</think>`; None when a think block opens and never closes."""
    end = text.rfind("</think>")
    if end >= 0:
        return text[end + len("</think>"):]
    if "<think>" in text:
        return None
    return text


def _clean_tail(s: str) -> str:
    s = s.strip()
    m = re.match(r"^\$+(.+?)\$+", s, re.DOTALL)  # "$x^2$." -> x^2
    if m:
        return m.group(1).strip()
    m = re.match(r"^\\\((.+?)\\\)", s, re.DOTALL) or re.match(r"^\\\[(.+?)\\\]", s, re.DOTALL)
    if m:
        return m.group(1).strip()
    s = s.split("\n", 1)[0].strip()
    s = re.sub(r"[.。](?:\s.*)?$", "", s)  # cut at the end of the sentence (a decimal point has no space after it)
    s = re.sub(r",\s+(?:[a-z]{3,}|[A-Z][a-z]{2,})\b.*$", "", s)  # "5, since ...": prose after a comma
    return s.strip().strip("*").strip()


def extract_candidates(text: str, policy: "ExtractionPolicy | str | None" = None) -> list[str]:
    """Every answer the policy finds, in priority order (all boxes, or one phrase/tag answer)."""
    pol = get_policy(policy)
    if not isinstance(text, str):
        return []
    if len(text) > MAX_RESPONSE_CHARS:
        text = text[-MAX_RESPONSE_CHARS:]
    if pol.strip_think:
        stripped = strip_think(text)
        if stripped is None:
            return []
        text = stripped
    if pol.boxed:
        boxes = [b for b in find_boxed(text) if b]
        if boxes:
            return boxes
        if "\\boxed" in text:  # only empty or unclosed boxes: a truncated answer, not an answer
            return []
    if pol.answer_tags:
        tags = _ANSWER_TAG_RE.findall(text)
        if tags and tags[-1].strip():
            inner = tags[-1].strip()
            return [find_boxed(inner)[-1] if pol.boxed and find_boxed(inner) else _clean_tail(inner)]
    best: tuple[int, str] | None = None
    for pat in pol.phrase_patterns:
        for m in pat.finditer(text):
            if best is None or m.end() > best[0]:
                best = (m.end(), text[m.end():])
    if best is not None:
        ans = _clean_tail(best[1].lstrip(" :：*"))
        if ans:
            return [ans]
    stripped = text.strip()
    if stripped and len(stripped) <= pol.whole_text_max_chars and "\n" not in stripped:
        return [_clean_tail(stripped) or stripped]
    if pol.choice_letters:
        tail = text[-400:]
        hits = _CHOICE_TAIL_RE.findall(tail)
        if hits:
            return [hits[-1][0] or hits[-1][1]]
    if pol.last_number:
        nums = _NUMBER_RE.findall(text)
        if nums:
            return [nums[-1].rstrip(".,")]
    return []


def extract_answer(text: str, policy: "ExtractionPolicy | str | None" = None) -> str | None:
    """The answer in `text` by `policy` (last box when there are several), or None."""
    cands = extract_candidates(text, policy)
    return cands[-1] if cands else None
