"""Warm-up SFT (paper step 1): supervised training on caption/VQA data and text reasoning, run
before SOPHIA, with no selection involved.

Every example is formatted exactly like the data SOPHIA trains and samples with, so a warm-up
teaches the very prompts the policy will see:

- `prompt: "harness"` (default): the item through the harness prompt (`build_messages`: the
  benchmark template, options, hint) and the system-prompt rule of the SOPHIA update
  (`TrainConfig.system_prompt`: `auto` = slow-thinking prompt for `<think>` responses, model
  default otherwise). Use it for VQA answers, short direct answers and text reasoning.
- `prompt: "caption"`: the SOPHIA caption prompt (image(s), question withheld); `question` may
  be omitted. Use it for caption / description data.
- `prompt: "reasoning"`: the SOPHIA reasoner prompt (the `caption` field stands in for the image,
  one-shot example); for domain-tuning a text reasoner on (caption, question) -> solution.

Files are JSONL, one object per line: `{"question", "response", "images"?, "prompt"?, "caption"?,
"id"?}` plus optional harness fields (`options`, `hint`, `answer_type`, `unit`); image paths are
relative to the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import TrainConfig
from sophia_eval.sophia.dataset import TrainExample

WARMUP_PROMPTS = ("harness", "caption", "reasoning")
_FIELDS = {"id", "question", "response", "images", "prompt", "caption", "options", "hint", "answer_type", "unit", "answer"}


class WarmupDataError(ValueError):
    """A warm-up file or line does not match the documented format."""


def _sample(row: dict[str, Any], path: Path, n: int) -> Sample:
    images = tuple(str(p if Path(p).is_absolute() else path.parent / p) for p in row.get("images") or ())
    for img in images:
        if not Path(img).is_file():
            raise WarmupDataError(f"{path}:{n}: image {img!r} not found")
    return Sample(benchmark=f"warmup:{path.stem}", id=str(row.get("id", n)), question=str(row.get("question", "")),
                  answer=str(row.get("answer", "")), images=images, options=tuple(str(o) for o in row.get("options") or ()),
                  hint=row.get("hint"), answer_type=row.get("answer_type"), unit=row.get("unit"), source=f"{path}:{n}")


def example_messages(row: dict[str, Any], path: Path, n: int, *, system_prompt: str = "auto") -> list[dict[str, Any]]:
    """The chat (prompt turns + the response as assistant turn) of one warm-up row."""
    from sophia_eval.sophia import prompts

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
        return [*prompts.caption_messages(sample), {"role": "assistant", "content": response}]
    if kind == "reasoning":
        if not isinstance(row.get("caption"), str):
            raise WarmupDataError(f"{path}:{n}: prompt 'reasoning' needs a string `caption` (the image description)")
        return [*prompts.reasoning_messages(sample, row["caption"]), {"role": "assistant", "content": response}]
    return prompts.training_messages(sample, response, system_prompt=system_prompt)


def load_warmup_file(path: str | Path, *, system_prompt: str = "auto") -> list[TrainExample]:
    path = Path(path)
    if not path.is_file():
        raise WarmupDataError(f"{path}: warm-up file not found; expected JSONL (see sophia_eval.sophia.warmup)")
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise WarmupDataError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise WarmupDataError(f"{path}:{n}: expected a JSON object")
            msgs = example_messages(row, path, n, system_prompt=system_prompt)
            out.append(TrainExample(id=f"{path.stem}:{row.get('id', n)}", messages=tuple(msgs),
                                    source=f"warmup_{row.get('prompt', 'harness')}"))
    if not out:
        raise WarmupDataError(f"{path}: no examples")
    return out


def warmup_examples(paths: Sequence[str | Path], *, system_prompt: str = "auto") -> list[TrainExample]:
    """All examples of the given files, in order (the trainer shuffles them each epoch)."""
    if not paths:
        raise WarmupDataError("no warm-up data: give at least one JSONL file (--data)")
    return [ex for p in paths for ex in load_warmup_file(p, system_prompt=system_prompt)]


def run_warmup(config: TrainConfig, paths: Sequence[str | Path], *, resume: bool = True) -> Any:
    """Plain SFT (weight 1 per example) through the SOPHIA trainer; returns its `TrainResult`."""
    from sophia_eval.sophia.trainer import train

    return train(config, warmup_examples(paths, system_prompt=config.system_prompt), resume=resume)
