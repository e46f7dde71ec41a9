"""Policy-update objectives, pluggable: each maps token log-probs to a per-token loss.

SOPHIA's update maximises E[(pi_theta / mu) R] with the importance ratio taken as 1, no KL, no
baseline, no clipping; with R in {0, 1} the gradient is R * sum_t grad log pi_theta(y_t | y_<t, q, I),
i.e. the reward-weighted NLL of the trajectory given the original question and image
(`RewardWeightedNLL`). `ClippedIS` is the PPO-style clipped importance-weighted variant, for
trajectories whose behaviour log-probs are known (GRPO rollouts, or SOPHIA records scored by the
policy): it needs `old_logprobs` aligned with the labels.

Reduction over a global batch (`reduce_loss`): `token` divides the weighted sum by the number of
target tokens in the whole global batch (all processes, all accumulation steps), so the gradient
does not depend on how the batch is split; `sequence` averages each sequence's mean token loss
over the global batch's sequences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Protocol

if TYPE_CHECKING:
    import torch


LOGPROB_CHUNK = 4096
"""Target positions per log-softmax chunk: a 32k-token trajectory over a 150k vocabulary would
otherwise materialise ~20 GB of float32 log-probs (and keep them for backward)."""


def _chunk_logprob(logits: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
    import torch

    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def token_logprobs(logits: "torch.Tensor", labels: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
    """Log-prob of each next token and the mask of positions that are targets (labels != -100).

    Shapes: logits [B, T, V], labels [B, T] -> both outputs [B, T-1] (position t predicts t+1).
    Float32 log-softmax over target positions only, in checkpointed chunks of `LOGPROB_CHUNK`
    rows, so only the model's own logits are held for backward.
    """
    import torch
    from torch.utils.checkpoint import checkpoint

    shift_labels = labels[:, 1:]
    mask = shift_labels != -100
    logp = torch.zeros(shift_labels.shape, dtype=torch.float32, device=logits.device)
    if mask.any():
        sel, tgt = logits[:, :-1][mask], shift_labels[mask]
        parts = []
        for i in range(0, sel.shape[0], LOGPROB_CHUNK):
            x, y = sel[i:i + LOGPROB_CHUNK], tgt[i:i + LOGPROB_CHUNK]
            parts.append(checkpoint(_chunk_logprob, x, y, use_reentrant=False) if x.requires_grad
                         else _chunk_logprob(x, y))
        logp = logp.masked_scatter(mask, torch.cat(parts))
    return logp, mask


class Objective(Protocol):
    """Per-token loss from token log-probs; reduction is done by `reduce_loss`."""

    name: str

    def __call__(self, logp: "torch.Tensor", mask: "torch.Tensor", batch: Mapping[str, Any]) -> "torch.Tensor":
        """`logp`, `mask`: [B, T-1]; `batch["weight"]`: [B]; returns the per-token loss [B, T-1] (0 off-mask)."""
        ...


class RewardWeightedNLL:
    """-R * log pi_theta(y_t | ...) per target token (the paper's update)."""

    name = "reward_nll"

    def __call__(self, logp, mask, batch):
        weight = batch["weight"].to(logp.dtype).unsqueeze(1)
        return -(weight * logp) * mask


class ClippedIS:
    """-min(rho * A, clip(rho, 1-eps, 1+eps) * A), rho = exp(logp - old_logp), A = weight.

    With old_logp == logp (first pass over fresh rollouts) its gradient equals the reward-weighted
    NLL's; it differs once the policy has moved (several passes, stale records).
    """

    name = "clipped_is"

    def __init__(self, epsilon: float = 0.2):
        if epsilon <= 0:
            raise ValueError(f"ClippedIS epsilon must be > 0, got {epsilon}")
        self.epsilon = epsilon

    def __call__(self, logp, mask, batch):
        import torch

        if "old_logprobs" not in batch:
            raise ValueError("objective clipped_is needs `old_logprobs` (behaviour log-probs per target token) "
                             "in the batch; score the trajectories with the policy first or use reward_nll")
        adv = batch["weight"].to(logp.dtype).unsqueeze(1)
        ratio = torch.exp(logp - batch["old_logprobs"].to(logp.dtype))
        clipped = torch.clamp(ratio, 1 - self.epsilon, 1 + self.epsilon)
        return -torch.minimum(ratio * adv, clipped * adv) * mask


def make_objective(name: str, *, clip_epsilon: float = 0.2) -> Objective:
    if name == "reward_nll":
        return RewardWeightedNLL()
    if name == "clipped_is":
        return ClippedIS(clip_epsilon)
    raise ValueError(f"unknown objective {name!r}; choose reward_nll or clipped_is")


def reduce_loss(per_token: "torch.Tensor", mask: "torch.Tensor", mode: str, *, global_tokens: int,
                global_sequences: int) -> "torch.Tensor":
    """This micro-batch's share of the global-batch loss (summing the shares gives the batch loss)."""
    if mode == "token":
        return per_token.sum() / max(global_tokens, 1)
    if mode == "sequence":
        per_seq = per_token.sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return per_seq.sum() / max(global_sequences, 1)
    raise ValueError(f"unknown loss normalisation {mode!r}; choose token or sequence")


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
