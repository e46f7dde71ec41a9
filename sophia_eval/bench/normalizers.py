"""Named normalisations a `benchmark.yaml` lists under `normalize:`, applied in order.

Each takes the draft item (a dict of `Sample` keyword arguments being built, plus `_where` for
errors) and fixes one known source quirk or maps one source convention onto the Sample contract.
They are generic by design (a quirk shared by several sources has one fix); each has a test.
Nothing here decides correctness: that is the verifier's job.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Callable

from sophia_eval.bench.formats import DataError

Draft = dict[str, Any]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_OLYMPIAD_TOLERANCE = 1e-8  # OlympiadBench's documented default for an empty `error` entry


def _where(d: Draft) -> str:
    return f"{d.get('_where', '?')} (item {d.get('id', '?')})"


def _literal(value: Any, d: Draft, field: str) -> Any:
    if not isinstance(value, str):
        return value
    s = value.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return value
    try:
        return ast.literal_eval(s)
    except (ValueError, SyntaxError) as exc:
        raise DataError(f"{_where(d)}: field {field!r} looks like a stringified list but does not parse: {s[:80]!r}") from exc


def stringified_lists(d: Draft) -> None:
    """Options, images, answers and categories given as Python-literal strings ("['a', 'b']")
    become lists (MMMU `options`/`images`/`img_type`, OlympiadBench `final_answer` in some releases)."""
    for f in ("options", "images", "answer"):
        if f in d:
            d[f] = _literal(d[f], d, f)
    cats = d.get("categories") or {}
    for k, v in list(cats.items()):
        cats[k] = _literal(v, d, f"categories.{k}")


def bool_strings(d: Draft) -> None:
    """`multiple` given as 'True'/'False'/'None' strings (or None) becomes a bool."""
    v = d.get("multiple")
    if isinstance(v, str):
        if v.strip() not in ("True", "False", "None", ""):
            raise DataError(f"{_where(d)}: expected 'True'/'False' for is_multiple_answer, got {v!r}")
        v = v.strip() == "True"
    d["multiple"] = bool(v)


def join_answer_list(d: Draft) -> None:
    """A list gold (several sub-answers) becomes one comma-joined string; `multiple` is set when
    there is more than one sub-answer (OlympiadBench `final_answer`)."""
    a = d.get("answer")
    if isinstance(a, (list, tuple)):
        if not a:
            raise DataError(f"{_where(d)}: empty answer list; expected at least one gold answer")
        parts = [str(x).strip() for x in a]
        d["answer"] = ", ".join(parts)
        if len(parts) > 1:
            d["multiple"] = True


def first_of_alternatives(d: Draft) -> None:
    """A list gold meaning "any of these" (MMMU open answers such as ['24/7', '3.429']) keeps the
    first form, the exact one; the alternatives are rounded restatements of it."""
    a = d.get("answer")
    if isinstance(a, (list, tuple)):
        if not a:
            raise DataError(f"{_where(d)}: empty answer list; expected at least one gold answer")
        d["answer"] = str(a[0])


def olympiad_tolerance(d: Draft) -> None:
    """OlympiadBench `error`: None / 'None' / '' -> no tolerance; '1e-1' -> 0.1; a comma-separated
    list ('1e-2,' or ',1e-2') -> one absolute tolerance per sub-answer, empty entries get the
    official default 1e-8."""
    v = d.get("tolerance")
    if v is None or (isinstance(v, str) and v.strip() in ("", "None")):
        d["tolerance"] = None
        return
    if isinstance(v, (int, float)):
        d["tolerance"] = float(v)
        return
    try:
        parts = [float(p) if p.strip() else DEFAULT_OLYMPIAD_TOLERANCE for p in str(v).split(",")]
    except ValueError as exc:
        raise DataError(f"{_where(d)}: error tolerance {v!r} is not a number or comma-separated numbers") from exc
    d["tolerance"] = parts[0] if len(parts) == 1 else tuple(parts)


def none_strings(d: Draft) -> None:
    """'None' / '' strings in unit, hint and tolerance mean absent."""
    for f in ("unit", "hint", "tolerance"):
        if isinstance(d.get(f), str) and d[f].strip() in ("", "None"):
            d[f] = None


_ESCAPES = {"\x0c": "\\f", "\x08": "\\b", "\x07": "\\a", "\x0b": "\\v"}


def fix_json_escapes(d: Draft) -> None:
    """LaTeX whose backslash was eaten by a JSON escape: a form feed before 'rac' was '\\frac'
    (MathVision id 2830), and likewise \\b, \\a, \\v; a tab or CR directly followed by a
    letter in a gold answer was '\\t'imes or '\\r'ight (newlines are left alone)."""
    a = d.get("answer")
    if not isinstance(a, str):
        return
    for ch, rep in _ESCAPES.items():
        a = a.replace(ch, rep)
    a = re.sub(r"\t(?=[a-zA-Z])", r"\\t", a)
    a = re.sub(r"\r(?=[a-zA-Z])", r"\\r", a)
    d["answer"] = a


def unwrap_boxed(d: Draft) -> None:
    """A gold written as `$\\boxed{X}$` or `\\boxed{X}` becomes `X` (MathVision, 4 items)."""
    a = d.get("answer")
    if not isinstance(a, str):
        return
    s = a.strip()
    if s.startswith("$") and s.endswith("$"):
        s = s.strip("$").strip()
    if s.startswith("\\boxed{") and s.endswith("}"):
        inner = s[len("\\boxed{"):-1]
        depth = 0
        for ch in inner:  # only unwrap when the braces close at the very end
            depth += (ch == "{") - (ch == "}")
            if depth < 0:
                return
        if depth == 0:
            d["answer"] = inner
    return


def last_boxed(d: Draft) -> None:
    """The gold is the last \\boxed{...} of a worked solution (Minerva Math has no answer field)."""
    a = d.get("answer")
    if not isinstance(a, str):
        return
    start = a.rfind("\\boxed{")
    if start < 0:
        raise DataError(f"{_where(d)}: expected a \\boxed{{...}} answer in the solution text, found none")
    i, depth = start + len("\\boxed{"), 1
    j = i
    while j < len(a) and depth:
        depth += (a[j] == "{") - (a[j] == "}")
        j += 1
    if depth:
        raise DataError(f"{_where(d)}: unbalanced braces in the last \\boxed{{...}} of the solution")
    d["answer"] = a[i:j - 1].strip()


def strip_answer(d: Draft) -> None:
    """Surrounding whitespace in the gold is an artefact (MathVision '11 ', MathVerse '777 ')."""
    if isinstance(d.get("answer"), str):
        d["answer"] = d["answer"].strip()


_CODE_CALL = re.compile(r"\b(?:np|numpy|math)\.(arcsin|arccos|arctan|sin|cos|tan|sqrt|log|exp|pi)\b")


def numpy_calls(d: Draft) -> None:
    """A gold written as Python code ('np.arcsin(10/13)', Minerva Math) uses the LaTeX function
    name instead ('\\arcsin(10/13)'); 'np.pi' becomes '\\pi'. Only these known names are mapped."""
    a = d.get("answer")
    if isinstance(a, str) and "." in a:
        d["answer"] = _CODE_CALL.sub(lambda m: "\\" + m.group(1), a)


def fix_degree_mojibake(d: Draft) -> None:
    """'°' mis-decoded as GBK shows as '掳' (MathVerse answers such as '118掳T')."""
    if isinstance(d.get("answer"), str):
        d["answer"] = d["answer"].replace("掳", "°")


def fullwidth_to_ascii(d: Draft) -> None:
    """Full-width ASCII forms in a gold ('－1', 'k_1+k_2＝0', '（1,2）', OlympiadBench Gaokao) become
    ASCII. The full-width comma '，' is kept: in these golds it joins prose clauses, and turning it
    into ',' would make the verifier split one answer into several."""
    a = d.get("answer")
    if isinstance(a, str):
        d["answer"] = "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E and c != "，" else c for c in a)


def choice_if_options(d: Draft) -> None:
    """With an option list, the gold is a choice among lettered options."""
    if d.get("options"):
        d["answer_type"] = "choice"


def letter_gold_is_choice(d: Draft) -> None:
    """A single capital-letter gold with no option list is a choice whose options are in the image
    (MathVision ids 59 and 434 are free-form in the source but answer 'C'; DynaMath, MathVerse)."""
    a = d.get("answer")
    if not d.get("options") and isinstance(a, str) and re.fullmatch(r"[A-Z]", a.strip()):
        d["answer_type"] = "choice"


def letters_gold(d: Draft) -> None:
    """Letter golds, possibly several ('A, C', 'B,D' -> multi_choice, LogicVista); a single letter
    is a choice; anything else (LogicVista '3' for options 1-5) is left for the verifier to infer."""
    a = d.get("answer")
    if not isinstance(a, str):
        return
    letters = [p.strip() for p in re.split(r"[,\s]+", a.strip()) if p.strip()]
    if letters and all(re.fullmatch(r"[A-Z]", x) for x in letters):
        d["answer"] = ", ".join(letters)
        d["answer_type"] = "multi_choice" if len(letters) > 1 else "choice"


def option_text_to_letter(d: Draft) -> None:
    """A gold given as the text of an option (MathVista multiple choice) becomes that option's
    letter; a gold that matches no option is an error naming the item."""
    opts = d.get("options") or []
    a = d.get("answer")
    if not opts or not isinstance(a, str):
        return
    if re.fullmatch(r"[A-Z]", a.strip()) and a.strip() not in [str(o).strip() for o in opts]:
        d["answer_type"] = "choice"
        return
    matches = [i for i, o in enumerate(opts) if str(o).strip() == a.strip()]
    if not matches:
        raise DataError(f"{_where(d)}: gold {a!r} is neither a letter nor one of the options {opts}")
    d["answer"] = LETTERS[matches[0]]
    d["answer_type"] = "choice"


def hint_from_query(d: Draft) -> None:
    """MathVista's `query` is 'Hint: ...\\nQuestion: ...'; the hint is everything before
    'Question:' (the instruction on answer format the authors prepend)."""
    q = d.get("hint")
    if not isinstance(q, str):
        return
    head, sep, _ = q.partition("Question:")
    d["hint"] = head.strip() if sep and head.strip() else None


def options_from_question(d: Draft) -> None:
    """Options listed in the question after a 'Choices:' (or 'Choice:') line ('A:40°', '(B) 60',
    'C. 120') are split into `options`, so choice items carry their option texts."""
    if d.get("options"):
        return
    q = d.get("question") or ""
    heads = list(re.finditer(r"Choices?:", q))  # MathVerse writes both 'Choices:' and 'Choice:'
    if not heads:
        return
    tail = q[heads[-1].end():]
    opts = []
    for line in tail.strip().splitlines():
        m = re.match(r"\s*\(?([A-Z])[\):.：]\s*(.*)", line)
        if m and m.group(1) == LETTERS[len(opts)]:
            opts.append(m.group(2).strip())
    if len(opts) >= 2:
        d["options"] = opts


def semicolon_options(d: Draft) -> None:
    """Options packed into one string 'A. 3; B. 4; C. 5' (WeMath `option`) become a list."""
    v = d.get("options")
    if not isinstance(v, str):
        return
    parts = re.split(r";\s*(?=[A-Z][.:：])", v.strip())
    opts = []
    for p in parts:
        m = re.match(r"\s*([A-Z])[.:：]\s*(.*)", p, re.S)
        if not m:
            raise DataError(f"{_where(d)}: option string {v[:80]!r} is not 'A. ...; B. ...'")
        opts.append(m.group(2).strip())
    d["options"] = opts


_COT_SUFFIX = re.compile(r"\s*Please reason step by step, and put your final answer within \\boxed\{\}\.?\s*$")


def strip_cot_suffix(d: Draft) -> None:
    """A question stored with a prompt suffix already appended ('Please reason step by step, and
    put your final answer within \\boxed{}.', QwQ's AIME files) loses it: templates add their own."""
    if isinstance(d.get("question"), str):
        d["question"] = _COT_SUFFIX.sub("", d["question"])


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\((https?://[^)\s]+)\)")


def markdown_image_urls(d: Draft) -> None:
    """Figures embedded as markdown links `![](https://...)` in the question (OlympiadBench first
    release) become image entries, so an item that needs a figure is never treated as text-only."""
    q = d.get("question")
    if isinstance(q, str):
        urls = _MD_IMAGE.findall(q)
        if urls:
            d["images"] = list(d.get("images") or []) + urls


NORMALIZERS: dict[str, Callable[[Draft], None]] = {
    f.__name__: f
    for f in (
        stringified_lists, bool_strings, join_answer_list, first_of_alternatives, olympiad_tolerance,
        none_strings, fix_json_escapes, fullwidth_to_ascii, unwrap_boxed, last_boxed, strip_answer, fix_degree_mojibake, numpy_calls,
        choice_if_options, letter_gold_is_choice, letters_gold, option_text_to_letter,
        hint_from_query, options_from_question, semicolon_options, strip_cot_suffix,
        markdown_image_urls,
    )
}
