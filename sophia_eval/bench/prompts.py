"""Sample -> chat messages: named prompt templates, named system prompts, hint prepending and a
stable `prompt_hash` recorded with every sample so a changed prompt is visible in the records.

Messages are OpenAI-style: `{"role": ..., "content": str | list[part]}`; the user turn is a list
of parts, images first in the order the question refers to them (`{"type": "image", "image":
path_or_PIL}`), then `{"type": "text", "text": ...}`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

from sophia_eval.bench.sample import Sample
from sophia_eval.verify.kinds import answer_instruction

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

SYSTEM_PROMPTS: dict[str, str] = {
    # SOPHIA evaluates its trained models under a slow-thinking system prompt (paper, sec. 3);
    # the wording below is ours: same role, same demands, same stated budget.
    "sophia_slow_thinking": (
        "You are an expert competition mathematician. Before answering, think the problem through "
        "deeply and patiently: look at it from several angles, reason rigorously step by step, and "
        "check and re-check every intermediate result, going back to the figure whenever a detail "
        "matters. Write all of this thinking inside <think> and </think> tags; you may use up to "
        "32768 tokens for it. After </think>, give a concise solution and put the final answer in "
        "\\boxed{}."
    ),
    "concise_boxed": "You are a careful math assistant. Solve the problem and put the final answer in \\boxed{}.",
}


@dataclass(frozen=True)
class Template:
    """A named way to turn a sample into the user turn's text."""

    name: str
    description: str
    render: Callable[[Sample], str]


def _options_listed(s: Sample) -> bool:
    """Options already readable without a block: bare letters (MathVision, the choices are in
    the image) or every option text already in the question (MathVerse 'Choices:' lines)."""
    if all(opt.strip() == LETTERS[i] for i, opt in enumerate(s.options)):
        return True
    return "Choice" in s.question and all(opt in s.question for opt in s.options)


def _options_block(s: Sample) -> str:
    if not s.options or _options_listed(s):
        return ""
    return "\n".join(f"({LETTERS[i]}) {opt}" for i, opt in enumerate(s.options))


def _answer_instruction(s: Sample) -> str:
    return answer_instruction(s.answer_type, unit=s.unit, has_options=bool(s.options))


def _default(s: Sample) -> str:
    parts = [s.question.strip() or "Solve the problem shown in the image."]
    if _options_block(s):
        parts.append("Options:\n" + _options_block(s))
    parts.append(_answer_instruction(s))
    return "\n\n".join(parts)


def _plain(s: Sample) -> str:
    parts = [s.question.strip()]
    if _options_block(s):
        parts.append(_options_block(s))
    return "\n\n".join(parts)


def _text_math(s: Sample) -> str:
    return s.question.strip() + "\n\nPlease reason step by step, and put your final answer within \\boxed{}."


def _vision_only(s: Sample) -> str:
    # The whole problem (question and options) is drawn in the image (MathVerse Vision Only,
    # MMMU-Pro vision); the text only says what to do with it.
    q = s.question.strip()
    lead = q if q else "Read the problem shown in the image and solve it."
    return lead + "\n\n" + _answer_instruction(s)


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("default", "question, lettered options when present, and a \\boxed{} answer instruction", _default),
        Template("plain", "question and lettered options only, no instruction", _plain),
        Template("text_math", "text problem plus the common 'reason step by step ... \\boxed{}' suffix", _text_math),
        Template("vision_only", "problem is in the image; the text asks to solve it with a \\boxed{} answer", _vision_only),
    )
}


def build_messages(sample: Sample, *, template: str | None = None, system_prompt: str | None = None,
                   use_hint: bool = True) -> list[dict[str, Any]]:
    """Chat messages for one sample. `template` defaults to `default`; `system_prompt` is a name
    in `SYSTEM_PROMPTS` (None = no system turn, the model's own default); the sample's hint is
    prepended to the text when `use_hint` (SOPHIA protocol)."""
    name = template or "default"
    if name not in TEMPLATES:
        raise KeyError(f"unknown prompt template {name!r}; known templates: {', '.join(sorted(TEMPLATES))}")
    text = TEMPLATES[name].render(sample)
    if use_hint and sample.hint:
        text = sample.hint.strip() + "\n" + text
    messages: list[dict[str, Any]] = []
    if system_prompt is not None:
        if system_prompt not in SYSTEM_PROMPTS:
            raise KeyError(f"unknown system prompt {system_prompt!r}; known: {', '.join(sorted(SYSTEM_PROMPTS))}")
        messages.append({"role": "system", "content": SYSTEM_PROMPTS[system_prompt]})
    content: list[dict[str, Any]] = [{"type": "image", "image": img} for img in sample.images]
    content.append({"type": "text", "text": text})
    messages.append({"role": "user", "content": content})
    return messages


def _image_token(img: Any) -> str:
    if isinstance(img, str):
        return "path:" + img
    try:  # a PIL image: hash its pixels so the hash does not depend on where it was loaded from
        return "pil:" + hashlib.sha256(img.tobytes()).hexdigest()[:16] + f":{img.mode}:{img.size}"
    except AttributeError:
        return "obj:" + type(img).__name__


def prompt_hash(messages: list[dict[str, Any]]) -> str:
    """Stable 16-hex-digit hash of the messages (text exactly, images by path or pixel hash)."""

    def canon(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: (_image_token(v) if k == "image" else canon(v)) for k, v in sorted(obj.items())}
        if isinstance(obj, list):
            return [canon(x) for x in obj]
        return obj

    blob = json.dumps(canon(messages), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def prompt_for_record(messages: list[dict[str, Any]], data_root: str | None = None) -> list[dict[str, Any]]:
    """The messages as stored with each sample (`--log_samples` style): text verbatim, an image as
    its path relative to the data root (no local absolute paths in shared runs), an embedded image
    as `pil:<pixel hash>:<mode>:<size>`."""
    from pathlib import PurePath

    def image_ref(img: Any) -> str:
        if isinstance(img, str) and data_root:
            try:
                return PurePath(img).relative_to(data_root).as_posix()
            except ValueError:
                return PurePath(img).name
        return img if isinstance(img, str) else _image_token(img)

    out = []
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, list):
            content = [{"type": "image", "image": image_ref(p.get("image"))} if p.get("type") == "image" else dict(p)
                       for p in content]
        out.append({"role": msg.get("role"), "content": content})
    return out
