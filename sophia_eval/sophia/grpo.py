"""Optional on-policy GRPO after SOPHIA, with the same binary verifier reward.

Per step: `questions_per_step` questions, `rollouts` samples each from the CURRENT policy; reward
from the verifier (`rewards.score_texts`); group-normalised advantage A = (r - mean) / (std + eps)
within each question's group; groups whose rewards are all equal (all correct or all wrong) carry
no signal and are dropped (dynamic filtering); then `epochs_per_batch` passes of the clipped
importance-weighted objective (`objective.ClippedIS`) against the log-probs the policy had when it
generated. Questions are pre-filtered to a pass rate in [min_pass_rate, max_pass_rate] (paper:
[0.4, 0.6]) measured beforehand, e.g. from sampling records (`pass_rates`).

Simplifications, on purpose: generation uses the model in the training process (HF `generate`,
no vLLM weight sync), so this is for modest scales; no KL term (the paper's stage has none stated);
token-level mean over the step's kept rollouts.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import GRPOConfig, TrainConfig

RewardFn = Callable[[Sequence[Sample], Sequence[str]], list[float | None]]


def verifier_reward(samples: Sequence[Sample], texts: Sequence[str]) -> list[float | None]:
    """The outcome reward of SOPHIA sampling (verifier with the item's metadata)."""
    from sophia_eval.sophia.rewards import score_texts

    return [s["reward"] for s in score_texts(samples, texts)]


def group_advantages(rewards: Sequence[float | None], eps: float = 1e-6) -> list[float] | None:
    """(r - mean) / (std + eps) over one group (None rewards count as 0); None when all are equal."""
    r = [0.0 if x is None else float(x) for x in rewards]
    mean = sum(r) / len(r)
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / len(r))
    if std == 0:
        return None
    return [(x - mean) / (std + eps) for x in r]


def pass_rates(records: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Mean reward per item id over records with `reward` (SOPHIA trajectories) or `correct`
    (harness `samples.jsonl` of the policy on the training items); None counts as 0."""
    acc: dict[str, list[float]] = defaultdict(list)
    for r in records:
        value = r["reward"] if "reward" in r else r.get("correct")
        acc[str(r["item_id"])].append(float(value or 0.0))
    return {k: sum(v) / len(v) for k, v in acc.items()}


def filter_by_pass_rate(items: Sequence[Sample], rates: Mapping[str, float], config: GRPOConfig) -> list[Sample]:
    """Items whose measured pass rate is in [min_pass_rate, max_pass_rate]; unmeasured items are dropped."""
    return [s for s in items if s.id in rates and config.min_pass_rate <= rates[s.id] <= config.max_pass_rate]


@dataclass
class GRPOResult:
    final_dir: Any
    steps: int = 0
    losses: list[float] = field(default_factory=list)
    mean_rewards: list[float] = field(default_factory=list)
    kept_groups: list[int] = field(default_factory=list)
    """Groups with a non-zero advantage spread, per step (the rest were filtered)."""


def _rollouts(model: Any, processor: Any, samples: Sequence[Sample], grpo: GRPOConfig, system_prompt: str,
              device: Any) -> list[tuple[Sample, str]]:
    import torch

    from sophia_eval.sophia.prompts import training_messages

    tok = getattr(processor, "tokenizer", processor)
    out = []
    for s in samples:
        enc = processor.apply_chat_template(training_messages(s, None, system_prompt=system_prompt),
                                            add_generation_prompt=True, tokenize=True, return_dict=True,
                                            return_tensors="pt")
        enc = {k: v.to(device) for k, v in enc.items()}
        with torch.no_grad():
            gen = model.generate(**enc, do_sample=True, temperature=grpo.temperature, top_p=grpo.top_p,
                                 max_new_tokens=grpo.max_new_tokens, num_return_sequences=grpo.rollouts,
                                 pad_token_id=tok.pad_token_id)
        n = enc["input_ids"].shape[1]
        out.extend((s, tok.decode(g[n:], skip_special_tokens=True)) for g in gen)
    return out


def grpo_train(train: TrainConfig, grpo: GRPOConfig, items: Sequence[Sample], *, steps: int,
               reward_fn: RewardFn = verifier_reward, system_prompt: str = "slow_thinking") -> GRPOResult:
    """Run `steps` GRPO steps from `train.model`; writes the HF model to `<output_dir>/final`."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, gather_object, set_seed

    from sophia_eval.sophia.dataset import TrainExample, collate, encode
    from sophia_eval.sophia.objective import ClippedIS, token_logprobs
    from sophia_eval.sophia.prompts import training_messages
    from sophia_eval.sophia.trainer import _mixed_precision, _no_accelerator, _save_hf, freeze_vision, load_policy

    if not items:
        raise ValueError("GRPO has no questions (after the pass-rate filter?); widen [min_pass_rate, max_pass_rate]")
    accelerator = Accelerator(cpu=_no_accelerator(), mixed_precision=_mixed_precision(train.mixed_precision),
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    if accelerator.state.deepspeed_plugin is not None:
        raise ValueError("grpo_train supports one process, DDP and FSDP, not DeepSpeed (its per-step batch size "
                         "varies with dynamic filtering); launch with train/accelerate/fsdp.yaml or multi_gpu_ddp.yaml")
    world, rank = accelerator.num_processes, accelerator.process_index
    set_seed(train.seed + rank)  # rollouts must differ across ranks
    model, processor = load_policy(train.model)
    if train.freeze_vision:
        freeze_vision(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=grpo.lr, weight_decay=train.weight_decay,
                                  betas=(train.adam_beta1, train.adam_beta2))
    model, optimizer = accelerator.prepare(model, optimizer)
    objective = ClippedIS(grpo.clip_epsilon)
    pad_id = getattr(processor, "tokenizer", processor).pad_token_id or 0
    order = list(items)
    random.Random(train.seed).shuffle(order)
    result = GRPOResult(final_dir=f"{train.output_dir}/final")

    for step in range(steps):
        qs = [order[(step * grpo.questions_per_step + i) % len(order)] for i in range(grpo.questions_per_step)]
        model.eval()
        local = _rollouts(accelerator.unwrap_model(model), processor, qs[rank::world], grpo, system_prompt,
                          accelerator.device)
        rollouts = gather_object(local) if world > 1 else local
        rewards = reward_fn([s for s, _ in rollouts], [t for _, t in rollouts])
        groups: dict[str, list[int]] = defaultdict(list)
        for i, (s, _) in enumerate(rollouts):
            groups[s.id].append(i)
        examples = []
        for idx in groups.values():
            adv = group_advantages([rewards[i] for i in idx])
            if adv is None:
                continue  # all correct or all wrong: no learning signal
            for i, a in zip(idx, adv):
                s, text = rollouts[i]
                examples.append(TrainExample(id=f"{s.id}/{i}", weight=a,
                                             messages=tuple(training_messages(s, text, system_prompt=system_prompt))))
        result.mean_rewards.append(sum(r or 0.0 for r in rewards) / max(len(rewards), 1))
        result.kept_groups.append(sum(1 for idx in groups.values() if group_advantages([rewards[i] for i in idx])))
        mine = examples[rank::world]
        if len(examples) < world or not mine:  # same decision on every rank: all see the same list
            result.losses.append(float("nan"))
            continue
        encs = [encode(processor, ex) for ex in mine]
        batch = collate(encs, pad_id)
        batch["weight"] = torch.tensor([ex.weight for ex in mine])
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "weight")}
        n_tokens = accelerator.reduce(torch.tensor(float((batch["labels"][:, 1:] != -100).sum()),
                                                   device=accelerator.device), reduction="sum")
        with torch.no_grad():
            old, _ = token_logprobs(model(**inputs).logits, batch["labels"])
        batch["old_logprobs"] = old
        model.train()
        for _ in range(grpo.epochs_per_batch):
            logp, mask = token_logprobs(model(**inputs).logits, batch["labels"])
            loss = objective(logp, mask, batch).sum() / n_tokens
            accelerator.backward(loss * world)  # DDP averages over ranks; undo it for a global token mean
            if train.max_grad_norm > 0:
                accelerator.clip_grad_norm_(model.parameters(), train.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad()
        result.losses.append(float(accelerator.reduce(loss.detach(), reduction="sum")))
        result.steps = step + 1
        accelerator.print(f"[sophia grpo] step {step + 1}/{steps} reward={result.mean_rewards[-1]:.3f} "
                          f"groups_kept={result.kept_groups[-1]}/{len(groups)} loss={result.losses[-1]:.4g}")
    accelerator.wait_for_everyone()
    from pathlib import Path

    result.final_dir = Path(result.final_dir)
    _save_hf(accelerator, model, processor, result.final_dir)
    accelerator.wait_for_everyone()
    return result
