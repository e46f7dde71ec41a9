"""The policy's own log-probs of the selected trajectories (behaviour log-probs), stored for the
clipped / importance-weighted objectives.

SOPHIA itself treats the importance ratio as 1, so this step is optional. When the file exists
beside `selected.jsonl`, `dataset.load_selected` attaches the log-probs to each example and the
`clipped_is` objective uses them as the behaviour policy (pi_old = the policy before the update);
without it, `clipped_is` uses the policy at the start of each optimizer step.

    <selection_dir>/behaviour_logprobs.jsonl   {"id", "model", "logprobs": [one per target token], "sum"}

Scoring is resumable (ids already in the file are skipped) and runs on one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sophia_eval.sophia.records import JsonlLog

BEHAVIOUR_FILE = "behaviour_logprobs.jsonl"


def score_behaviour_logprobs(selection_dir: str | Path, model_id: str, *, system_prompt: str = "auto",
                             show_progress: bool = True) -> Path:
    """Score every selected trajectory under `model_id` (the policy before the update)."""
    import torch
    from rich.progress import track

    from sophia_eval.sophia.dataset import encode, load_selected
    from sophia_eval.sophia.objective import token_logprobs
    from sophia_eval.sophia.trainer import load_policy

    selection_dir = Path(selection_dir)
    log = JsonlLog(selection_dir / BEHAVIOUR_FILE)
    done = {r["id"] for r in log.read()}
    todo = [ex for ex in load_selected(selection_dir / "selected.jsonl", system_prompt=system_prompt)
            if ex.id not in done]
    if not todo:
        return log.path
    model, processor = load_policy(model_id)
    model.eval()
    for ex in track(todo, description="behaviour log-probs", disable=not show_progress):
        enc = encode(processor, ex)
        with torch.no_grad():
            logits = model(**{k: v for k, v in enc.items() if k != "labels"}).logits
            logp, mask = token_logprobs(logits, enc["labels"])
        values = [round(float(x), 6) for x in logp[mask]]
        log.append([{"id": ex.id, "model": model_id, "logprobs": values, "sum": sum(values)}])
    return log.path


def read_behaviour_logprobs(selection_dir: str | Path) -> dict[str, list[float]]:
    """id -> per-target-token log-probs (empty when the optional file is absent)."""
    path = Path(selection_dir) / BEHAVIOUR_FILE
    return {r["id"]: r["logprobs"] for r in JsonlLog(path).read()} if path.exists() else {}


def aligned_old_logprobs(examples: Any, mask: Any) -> Any:
    """[B, T-1] tensor with each example's stored log-probs at its target positions, or None when
    any example in the micro-batch has none. Raises when the stored count disagrees with the mask
    (the trajectory was re-tokenised differently, e.g. another chat template)."""
    import torch

    if any(ex.old_logprobs is None for ex in examples):
        return None
    out = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
    for b, ex in enumerate(examples):
        n = int(mask[b].sum())
        if n != len(ex.old_logprobs):
            raise ValueError(f"example {ex.id}: {len(ex.old_logprobs)} stored behaviour log-probs but {n} target "
                             f"tokens; rescore with `sophia score-policy` for this model and template")
        out[b, mask[b]] = torch.tensor(ex.old_logprobs, dtype=torch.float32, device=mask.device)
    return out
