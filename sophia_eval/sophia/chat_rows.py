"""One JSONL row of SFT data (warm-up files, the update's text/VQA mix) -> chat messages, formatted
exactly like the SOPHIA data:

- `prompt: "harness"` (default): the item through the harness prompt (`build_messages`: the
  benchmark template, options, hint) and the system-prompt rule of the SOPHIA update
  (`auto` = slow-thinking prompt for `<think>` responses, model default otherwise);
- `prompt: "caption"`: the SOPHIA caption prompt (image(s), question withheld);
- `prompt: "reasoning"`: the SOPHIA reasoner prompt (the row's `caption` stands in for the image).

A row: `{"question", "response", "images"?, "prompt"?, "caption"?, "id"?}` plus optional harness
fields (`options`, `hint`, `answer_type`, `unit`, `answer`); image paths are relative to the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sophia_eval.bench.sample import Sample

if TYPE_CHECKING:
    from sophia_eval.sophia.config import PromptConfig

WARMUP_PROMPTS = ("harness", "caption", "reasoning")
_FIELDS = {"id", "question", "response", "images", "prompt", "caption", "options", "hint", "answer_type", "unit", "answer"}


class WarmupDataError(ValueError):
    """A warm-up / mix file or line does not match the documented format."""


def _sample(row: dict[str, Any], path: Path, n: int) -> Sample:
    images = tuple(str(p if Path(p).is_absolute() else path.parent / p) for p in row.get("images") or ())
    for img in images:
        if not Path(img).is_file():
            raise WarmupDataError(f"{path}:{n}: image {img!r} not found")
    return Sample(benchmark=f"warmup:{path.stem}", id=str(row.get("id", n)), question=str(row.get("question", "")),
                  answer=str(row.get("answer", "")), images=images, options=tuple(str(o) for o in row.get("options") or ()),
                  hint=row.get("hint"), answer_type=row.get("answer_type"), unit=row.get("unit"), source=f"{path}:{n}")


def example_messages(row: dict[str, Any], path: Path, n: int, *, system_prompt: str = "auto",
                     prompts: PromptConfig | None = None) -> list[dict[str, Any]]:
    """The chat (prompt turns + the response as assistant turn) of one warm-up row; `prompts`
    replaces the built-in caption / reasoning prompts (as in sampling)."""
    from sophia_eval.sophia import prompts as texts

    unknown = sorted(set(row) - _FIELDS)
    if unknown:
        raise WarmupDataError(f"{path}:{n}: unknown key(s) {unknown}; allowed: {sorted(_FIELDS)}")
    kind = row.get("prompt", "harness")
    if kind not in WARMUP_PROMPTS:
        raise WarmupDataError(f"{path}:{n}: prompt must be one of {WARMUP_PROMPTS}, got {kind!r}")
    if not isinstance(row.get("response"), str) or not row["response"].strip():
        raise WarmupDataError(f"{path}:{n}: `response` must be a non-empty string")
    if kind != "caption" and not str(row.get("question", "")).strip():
        raise WarmupDataError(f"{path}:{n}: `question` must be a non-empty string for prompt {kind!r}")
    sample = _sample(row, path, n)
    response = row["response"]
    if kind == "caption":
        return [*texts.caption_messages(sample, prompts), {"role": "assistant", "content": response}]
    if kind == "reasoning":
        if not isinstance(row.get("caption"), str):
            raise WarmupDataError(f"{path}:{n}: prompt 'reasoning' needs a string `caption` (the image description)")
        return [*texts.reasoning_messages(sample, row["caption"], prompts), {"role": "assistant", "content": response}]
    return texts.training_messages(sample, response, system_prompt=system_prompt)
