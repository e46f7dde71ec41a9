"""Training examples for the update: selected SOPHIA trajectories, mixed with text-only reasoning
and general VQA data, encoded into token ids with the prompt masked out of the labels.

An example is a chat (prompt turns + one assistant turn) and a weight (the trajectory's reward).
The prompt is the ORIGINAL question and image(s), never the caption. Labels are -100 on every
prompt token, so only the assistant turn (and the template's end-of-turn token) is learned.

Mix files (JSONL, one object per line):
- text-only reasoning: `{"question": ..., "response": ...}` (e.g. NuminaMath / MATH solutions);
- general VQA: `{"images": [paths], "question": ..., "response": ...}` (paths relative to the file).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.chat_rows import example_messages
from sophia_eval.sophia.config import MixConfig, PromptConfig
from sophia_eval.sophia.prompts import training_messages
from sophia_eval.runs.jsonl import JsonlLog, object_lines

# Written by `behaviour.score_behaviour_logprobs` beside selected.jsonl; read here (optional file).
BEHAVIOUR_FILE = "behaviour_logprobs.jsonl"

IGNORE_INDEX = -100
# Per-token tensors that are padded like input_ids; every other tensor is concatenated on dim 0
# (pixel_values, image_grid_thw: the models index them by the image tokens in input_ids).
_TOKEN_KEYS = ("input_ids", "attention_mask", "labels", "mm_token_type_ids", "token_type_ids")


@dataclass(frozen=True)
class TrainExample:
    """One supervised chat: `messages[:-1]` is the prompt, `messages[-1]` the assistant target."""

    id: str
    messages: tuple[dict[str, Any], ...]
    weight: float = 1.0
    """Reward weight of the trajectory (the objective multiplies its token NLL by it)."""
    source: str = "sophia"
    """`sophia`, `text` or `vqa` (for per-source metrics)."""
    old_logprobs: tuple[float, ...] | None = None
    """Behaviour-policy log-prob per target token (`behaviour.py`), for the clipped-IS objective."""


def sample_to_dict(sample: Sample) -> dict[str, Any]:
    d = dataclasses.asdict(sample)
    d["images"] = [str(i) for i in sample.images]
    d["categories"] = dict(sample.categories)
    return d


def sample_from_dict(d: dict[str, Any]) -> Sample:
    d = dict(d)
    for key in ("images", "options"):
        d[key] = tuple(d.get(key) or ())
    if isinstance(d.get("tolerance"), list):
        d["tolerance"] = tuple(d["tolerance"])
    return Sample(**d)


def _read_jsonl(path: Path, error: type[Exception] = ValueError) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; expected a JSONL file")
    with path.open(encoding="utf-8") as fh:
        return list(object_lines(fh, path, error))


def read_behaviour_logprobs(selection_dir: str | Path) -> dict[str, list[float]]:
    """id -> per-target-token log-probs (empty when the optional file is absent)."""
    path = Path(selection_dir) / BEHAVIOUR_FILE
    return {r["id"]: r["logprobs"] for r in JsonlLog(path).read()} if path.exists() else {}


def load_selected(path: str | Path, *, system_prompt: str = "auto") -> list[TrainExample]:
    """Examples from a `selected.jsonl` written by the select stage."""
    path = Path(path)
    behaviour = read_behaviour_logprobs(path.parent)
    out = []
    for n, row in _read_jsonl(path):
        try:
            sample = sample_from_dict(row["sample"])
            response = row["reasoning"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a selected-trajectory record (missing {exc})") from exc
        msgs = training_messages(sample, response, system_prompt=system_prompt)
        ex_id = f"{row['item_id']}/{row['caption_index']}/{row['sample_index']}"
        old = behaviour.get(ex_id)
        out.append(TrainExample(id=ex_id, messages=tuple(msgs), weight=float(row.get("weight", 1.0)), source="sophia",
                                old_logprobs=tuple(old) if old is not None else None))
    return out


def load_mix_file(path: str | Path, kind: str, *, system_prompt: str = "auto",
                  prompts: PromptConfig | None = None) -> list[TrainExample]:
    """Text-only (`kind='text'`) or general VQA (`kind='vqa'`) examples, formatted like the SOPHIA
    examples (harness prompt and system-prompt rule; rows may pick another SOPHIA prompt with
    `"prompt"`, see `chat_rows.py`)."""
    path = Path(path)
    out = []
    for n, row in _read_jsonl(path):
        if not isinstance(row.get("question"), str) or not isinstance(row.get("response"), str):
            raise ValueError(f"{path}:{n}: expected string `question` and `response`")
        if kind == "vqa" and not row.get("images"):
            raise ValueError(f"{path}:{n}: a general VQA example needs `images`")
        msgs = tuple(example_messages(row, path, n, system_prompt=system_prompt, prompts=prompts))
        out.append(TrainExample(id=f"{kind}:{row.get('id', n)}", messages=msgs, source=kind))
    return out


def mix_examples(sophia: Sequence[TrainExample], mix: MixConfig, *, seed: int = 0,
                 system_prompt: str = "auto", prompts: PromptConfig | None = None) -> list[TrainExample]:
    """SOPHIA examples plus `ratio * len(sophia)` from each mix file, drawn without replacement
    (seeded); capped at the file's size. The trainer shuffles the result each epoch."""
    out = list(sophia)
    for kind in ("text", "vqa"):
        ratio, path = getattr(mix, f"{kind}_ratio"), getattr(mix, f"{kind}_path")
        if ratio <= 0:
            continue
        pool = load_mix_file(path, kind, system_prompt=system_prompt, prompts=prompts)
        want = min(len(pool), round(ratio * len(sophia)))
        out.extend(random.Random(f"{seed}:{kind}").sample(pool, want))
    return out


def has_chat_template(processor: Any) -> bool:
    tok = getattr(processor, "tokenizer", processor)
    return bool(getattr(processor, "chat_template", None) or getattr(tok, "chat_template", None))


def encode(processor: Any, example: TrainExample) -> dict[str, Any]:
    """Token ids (batch dim 1) with labels masked on the prompt; the processor loads the images.

    The prompt is encoded separately (with the generation prompt) and must be a prefix of the
    full chat's ids; otherwise the chat template is not prefix-stable and masking would be wrong.
    """
    if not has_chat_template(processor):
        raise ValueError("the policy's tokenizer/processor has no chat template; SOPHIA trains on chat-formatted "
                         "prompts, so use an instruction-tuned checkpoint or set `chat_template` on it")
    kwargs = dict(tokenize=True, return_dict=True, return_tensors="pt")
    prompt = processor.apply_chat_template(list(example.messages[:-1]), add_generation_prompt=True, **kwargs)
    full = processor.apply_chat_template(list(example.messages), **kwargs)
    n_prompt = prompt["input_ids"].shape[1]
    ids = full["input_ids"]
    if ids.shape[1] <= n_prompt or not bool((ids[0, :n_prompt] == prompt["input_ids"][0]).all()):
        raise ValueError(f"example {example.id}: the chat template does not render the prompt as a prefix of the "
                         "full chat, so prompt tokens cannot be masked reliably")
    target = example.messages[-1]["content"]
    if isinstance(target, str) and target.strip():
        # Some templates rewrite the assistant turn (Qwen3/QwQ drop everything before </think>);
        # training would then silently skip the reasoning. The target must survive rendering.
        tok = getattr(processor, "tokenizer", processor)
        rendered = tok.decode(ids[0, n_prompt:], skip_special_tokens=False)
        probe = target.strip()[:32]
        if probe not in rendered:
            raise ValueError(f"example {example.id}: the chat template rewrote the assistant turn (rendered "
                             f"{rendered[:80]!r}, expected it to contain {probe!r}); use a template that keeps "
                             "the full trajectory (e.g. one that does not strip <think>...</think>)")
    labels = ids.clone()
    labels[:, :n_prompt] = IGNORE_INDEX
    if "attention_mask" in full:
        labels[full["attention_mask"] == 0] = IGNORE_INDEX
    out = dict(full)
    out["labels"] = labels
    return out


def collate(encoded: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """Right-pad per-token tensors; concatenate the others (pixel_values, image_grid_thw)."""
    import torch

    width = max(e["input_ids"].shape[1] for e in encoded)
    batch: dict[str, Any] = {}
    keys = {k for e in encoded for k in e}
    for key in sorted(keys):
        if key in _TOKEN_KEYS:
            fill = {"input_ids": pad_token_id, "labels": IGNORE_INDEX}.get(key, 0)
            rows = []
            for e in encoded:
                t = e.get(key)
                if t is None:  # e.g. mm_token_type_ids absent for a text-only example
                    t = torch.zeros_like(e["input_ids"])
                pad = width - t.shape[1]
                rows.append(torch.nn.functional.pad(t, (0, pad), value=fill))
            batch[key] = torch.cat(rows, dim=0)
        else:
            batch[key] = torch.cat(_pad_trailing([e[key] for e in encoded if key in e]), dim=0)
    return batch


def _pad_trailing(parts: list[Any]) -> list[Any]:
    """Zero-pad every dimension but the first to the largest size, so tensors of different patch
    counts concatenate (LLaVA-OneVision: pixel_values [1, patches, 3, H, W]; the model reads the
    real count from image_sizes, as with the processor's own batched padding)."""
    import torch

    if len({t.shape[1:] for t in parts}) <= 1:
        return parts
    size = [max(t.shape[d] for t in parts) for d in range(1, parts[0].dim())]
    out = []
    for t in parts:
        pad: list[int] = []
        for d in reversed(range(1, t.dim())):
            pad += [0, size[d - 1] - t.shape[d]]
        out.append(torch.nn.functional.pad(t, pad))
    return out
