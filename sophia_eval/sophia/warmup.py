"""Warm-up SFT (paper step 1): supervised training on caption/VQA data and text reasoning, run
before SOPHIA, with no selection involved.

Every example is formatted exactly like the data SOPHIA trains and samples with (rows and their
`prompt` kinds: `chat_rows.py`), so a warm-up teaches the very prompts the policy will see: VQA
answers, short direct answers and text reasoning through the harness prompt (`"harness"`),
caption data through the caption prompt (`"caption"`), and a text reasoner's domain SFT through
the reasoner prompt (`"reasoning"`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from sophia_eval.sophia.chat_rows import WARMUP_PROMPTS, WarmupDataError, example_messages
from sophia_eval.sophia.config import PromptConfig, TrainConfig
from sophia_eval.sophia.dataset import TrainExample, _read_jsonl

__all__ = ["WARMUP_PROMPTS", "WarmupDataError", "example_messages", "load_warmup_file", "run_warmup", "warmup_examples"]


def load_warmup_file(path: str | Path, *, system_prompt: str = "auto",
                     prompts: PromptConfig | None = None) -> list[TrainExample]:
    path = Path(path)
    if not path.is_file():
        raise WarmupDataError(f"{path}: warm-up file not found; expected JSONL (see sophia_eval.sophia.chat_rows)")
    out = []
    for n, row in _read_jsonl(path, WarmupDataError):
        msgs = example_messages(row, path, n, system_prompt=system_prompt, prompts=prompts)
        out.append(TrainExample(id=f"{path.stem}:{row.get('id', n)}", messages=tuple(msgs),
                                source=f"warmup_{row.get('prompt', 'harness')}"))
    if not out:
        raise WarmupDataError(f"{path}: no examples")
    return out


def warmup_examples(paths: Sequence[str | Path], *, system_prompt: str = "auto",
                    prompts: PromptConfig | None = None) -> list[TrainExample]:
    """All examples of the given files, in order (the trainer shuffles them each epoch)."""
    if not paths:
        raise WarmupDataError("no warm-up data: give at least one JSONL file (--data)")
    return [ex for p in paths for ex in load_warmup_file(p, system_prompt=system_prompt, prompts=prompts)]


def run_warmup(config: TrainConfig, paths: Sequence[str | Path], *, resume: bool = True,
               prompts: PromptConfig | None = None) -> Any:
    """Plain SFT (weight 1 per example) through the SOPHIA trainer; returns its `TrainResult`.
    `prompts`: the recipe's sampling prompts, for rows with `prompt: caption | reasoning`."""
    from sophia_eval.sophia.trainer import train

    return train(config, warmup_examples(paths, system_prompt=config.system_prompt, prompts=prompts), resume=resume)
