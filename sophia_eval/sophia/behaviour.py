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

from sophia_eval.sophia.dataset import BEHAVIOUR_FILE, encode, load_selected
from sophia_eval.sophia.objective import token_logprobs
from sophia_eval.runs.jsonl import JsonlLog
from sophia_eval.sophia.trainer import load_policy


def score_behaviour_logprobs(selection_dir: str | Path, model_id: str, *, system_prompt: str = "auto",
                             show_progress: bool = True, trust_remote_code: bool = False) -> Path:
    """Score every selected trajectory under `model_id` (the policy before the update)."""
    import torch
    from rich.progress import track

    selection_dir = Path(selection_dir)
    log = JsonlLog(selection_dir / BEHAVIOUR_FILE)
    done = {r["id"] for r in log.read()}
    todo = [ex for ex in load_selected(selection_dir / "selected.jsonl", system_prompt=system_prompt)
            if ex.id not in done]
    if not todo:
        return log.path
    model, processor = load_policy(model_id, trust_remote_code=trust_remote_code)
    model.eval()
    for ex in track(todo, description="behaviour log-probs", disable=not show_progress):
        enc = encode(processor, ex)
        with torch.no_grad():
            logits = model(**{k: v for k, v in enc.items() if k != "labels"}).logits
            logp, mask = token_logprobs(logits, enc["labels"])
        values = [round(float(x), 6) for x in logp[mask]]
        log.append([{"id": ex.id, "model": model_id, "logprobs": values, "sum": sum(values)}])
    return log.path
