"""Optional on-policy GRPO after SOPHIA, with the same binary verifier reward.

Per step: rollouts (`rollouts` per question) from the CURRENT policy; reward from the verifier
(`rewards.score_texts`); group-normalised advantage A = (r - mean) / (std + eps) within each
question's group; groups whose rewards are all equal (all correct or all wrong) carry no signal
and are dropped, then refilled with further questions (up to `max_refill_rounds` extra rounds)
so a step trains on `questions_per_step` groups when the data allows; then `epochs_per_batch`
passes of the clipped importance-weighted objective (`objective.ClippedIS`) against the
log-probs the policy had before the update, in micro-batches of `TrainConfig.micro_batch_size`
(one optimizer step per pass, the loss a token mean over all kept rollouts of all processes).
Learning rate: linear warm-up then cosine decay. Questions are pre-filtered to a pass rate in
[min_pass_rate, max_pass_rate] (paper: [0.4, 0.6]) measured beforehand (`pass_rates`).

Rollouts come from a `Generator` (the harness's backend interface). By default that is
`PolicyGenerator`, HF `generate` on the live training model (fine for small scales). For the
paper's scale (64 x 8 rollouts of up to 16k tokens), pass a vLLM or OpenAI-compatible generator
serving the policy plus `sync_weights`: after every step the current weights are saved to
`<output_dir>/rollout_policy` (HF format) and `sync_weights(path)` must make the engine serve
them (e.g. reload the model from that path) before the next step's rollouts.

Checkpoints (`save_every`): weights, optimizer, scheduler, RNG and the question cursor; a rerun
resumes from the latest one. Question order and rollout seeds are functions of (seed, step), so
with a deterministic engine a resumed run repeats the uninterrupted one exactly. No KL term (the
paper's stage states none); DeepSpeed is refused (its per-step batch varies with filtering).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import signal
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from sophia_eval.backends.base import Completion, GenerationConfig
from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import GRPOConfig, TrainConfig

RewardFn = Callable[[Sequence[Sample], Sequence[str]], list[float | None]]
ROLLOUT_DIR = "rollout_policy"


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
    """Groups with a non-zero advantage spread, per step (after refills)."""
    lrs: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    """Global gradient norm of each optimizer step (before clipping)."""
    resumed_from: int = 0


class PolicyGenerator:
    """The `Generator` interface over the live training model (HF `generate`, one conversation at a
    time with `n` return sequences). Seeds per conversation come from the call's seed, so rollouts
    are reproducible."""

    name = "policy"

    def __init__(self, model: Any, processor: Any, device: Any):
        self.model, self.processor, self.device = model, processor, device

    def describe(self) -> dict[str, Any]:
        return {"backend": "in-process", "model": "training policy"}

    def generate(self, conversations: Sequence[Any], config: GenerationConfig) -> list[list[Completion]]:
        import torch

        tok = getattr(self.processor, "tokenizer", self.processor)
        out = []
        for i, conv in enumerate(conversations):
            enc = self.processor.apply_chat_template(list(conv), add_generation_prompt=True, tokenize=True,
                                                     return_dict=True, return_tensors="pt")
            enc = {k: v.to(self.device) for k, v in enc.items()}
            torch.manual_seed((config.seed or 0) + i)
            with torch.no_grad():
                gen = self.model.generate(**enc, do_sample=config.temperature > 0, temperature=config.temperature,
                                          top_p=config.top_p, max_new_tokens=config.max_new_tokens,
                                          num_return_sequences=config.n, pad_token_id=tok.pad_token_id)
            n = enc["input_ids"].shape[1]
            out.append([Completion(text=tok.decode(g[n:], skip_special_tokens=True), finish_reason="stop",
                                   prompt_tokens=n, completion_tokens=int((g[n:] != tok.pad_token_id).sum()))
                        for g in gen])
        return out


class ReloadingGenerator:
    """Rollouts from a project backend (`make_generator`: `vllm`, `transformers`, ...) that loads the
    policy from a directory; `sync(path)` rebuilds it on the weights of the latest step. Reloading
    a vLLM engine per step costs its start-up time; it is the simple, always-correct weight sync."""

    name = "reloading"

    def __init__(self, backend: str, model: str, **options: Any):
        from sophia_eval.backends import make_generator

        self.backend, self.options, self._make = backend, options, make_generator
        self.inner = make_generator(backend, model, **options)
        self.loads = 1

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "reloads": self.loads}

    def generate(self, conversations: Sequence[Any], config: GenerationConfig) -> list[list[Completion]]:
        return self.inner.generate(conversations, config)

    def sync(self, path: Path) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()  # free the engine's memory before the next one loads
        self.inner = self._make(self.backend, str(path), **self.options)
        self.loads += 1


def _seed(*key: Any) -> int:
    return int(hashlib.sha256(repr(key).encode()).hexdigest()[:8], 16) % (2**30)


def question_at(items: Sequence[Sample], index: int, seed: int) -> Sample:
    """The `index`-th question of an endless stream: a fresh seeded permutation per pass."""
    epoch, pos = divmod(index, len(items))
    order = list(range(len(items)))
    random.Random(f"{seed}:grpo:{epoch}").shuffle(order)
    return items[order[pos]]


def collect_groups(items: Sequence[Sample], cursor: int, step: int, grpo: GRPOConfig, generator: Any,
                   reward_fn: RewardFn, system_prompt: str, *, rank: int = 0, world: int = 1,
                   gather: Callable[[list], list] = lambda x: x) -> tuple[list[tuple[Sample, str, float]], int, dict]:
    """Rollouts of groups with a learning signal, refilling dropped groups. Returns
    ([(question, text, advantage)], new cursor, stats); every process gets the same list."""
    from sophia_eval.sophia.prompts import training_messages

    kept: list[tuple[Sample, str, float]] = []
    stats = {"groups": 0, "kept": 0, "rewards": []}
    for refill in range(grpo.max_refill_rounds + 1):
        need = grpo.questions_per_step - stats["kept"]
        if need <= 0:
            break
        qs = [question_at(items, cursor + i, grpo.seed) for i in range(need)]
        cursor += need
        mine = list(range(rank, need, world))
        gen_cfg = GenerationConfig(n=grpo.rollouts, temperature=grpo.temperature, top_p=grpo.top_p,
                                   max_new_tokens=grpo.max_new_tokens, seed=_seed(grpo.seed, step, refill, rank))
        convs = [training_messages(qs[i], None, system_prompt=system_prompt) for i in mine]
        results = generator.generate(convs, gen_cfg) if convs else []
        local = [(i, [c.text for c in comps]) for i, comps in zip(mine, results)]
        groups = sorted(gather(local), key=lambda g: g[0])  # same order on every process
        flat = [(qs[i], t) for i, texts in groups for t in texts]
        rewards = reward_fn([q for q, _ in flat], [t for _, t in flat])
        pos = 0
        for i, texts in groups:
            rs = rewards[pos:pos + len(texts)]
            adv = group_advantages(rs)
            stats["groups"] += 1
            stats["rewards"] += [float(r or 0.0) for r in rs]
            if adv is not None:
                stats["kept"] += 1
                kept += [(qs[i], t, a) for t, a in zip(texts, adv)]
            pos += len(texts)
    return kept, cursor, stats


def cosine_schedule(grpo: GRPOConfig, total_steps: int):
    from sophia_eval.sophia.trainer import lr_lambda

    return lr_lambda(grpo, total_steps)  # same warm-up + cosine shape as the SOPHIA update


def grpo_train(train: TrainConfig, grpo: GRPOConfig, items: Sequence[Sample], *, steps: int,
               reward_fn: RewardFn = verifier_reward, system_prompt: str = "slow_thinking",
               generator: Any = None, sync_weights: Callable[[Path], None] | None = None,
               resume: bool = True) -> GRPOResult:
    """Run (or resume) `steps` GRPO steps from `train.model`; the HF model goes to `<output_dir>/final`.

    `generator`: a `Generator` serving the policy (vLLM / OpenAI-compatible), with `sync_weights`
    to load each step's weights into it; None = `PolicyGenerator` on the live model.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, gather_object, set_seed

    from sophia_eval.sophia.dataset import TrainExample, collate, encode
    from sophia_eval.sophia.objective import ClippedIS, token_logprobs
    from sophia_eval.sophia.prompts import training_messages
    from sophia_eval.sophia.trainer import (FAULT_ENV, STATE_FILE, _latest_checkpoint, _mixed_precision,
                                            _no_accelerator, _save_checkpoint, _save_hf, checkpoint_dtype,
                                            freeze_vision, load_policy, padded_share, policy_config)

    if not items:
        raise ValueError("GRPO has no questions (after the pass-rate filter?); widen [min_pass_rate, max_pass_rate]")
    if generator is not None and sync_weights is None:
        raise ValueError("a GRPO generator other than the in-process policy needs `sync_weights`: rollouts must come "
                         "from the current policy, so the engine has to load each step's weights")
    accelerator = Accelerator(cpu=_no_accelerator(), mixed_precision=_mixed_precision(train.mixed_precision),
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    if accelerator.state.deepspeed_plugin is not None:
        raise ValueError("grpo_train supports one process, DDP and FSDP, not DeepSpeed (its per-step batch size "
                         "varies with dynamic filtering); launch with train/accelerate/fsdp.yaml or multi_gpu_ddp.yaml")
    world, rank = accelerator.num_processes, accelerator.process_index
    set_seed(train.seed)
    save_dtype = checkpoint_dtype(policy_config(train.model, trust_remote_code=train.trust_remote_code))
    model, processor = load_policy(train.model, trust_remote_code=train.trust_remote_code)
    if train.freeze_vision:
        freeze_vision(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=grpo.lr, weight_decay=train.weight_decay,
                                  betas=(train.adam_beta1, train.adam_beta2))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_schedule(grpo, steps))
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    objective = ClippedIS(grpo.clip_epsilon)
    pad_id = getattr(processor, "tokenizer", processor).pad_token_id or 0
    out = Path(train.output_dir)
    gather = (lambda x: gather_object(x)) if world > 1 else (lambda x: x)

    start, cursor = 0, 0
    ckpt = _latest_checkpoint(out) if resume else None
    if ckpt is not None:
        saved = json.loads((ckpt / STATE_FILE).read_text(encoding="utf-8"))
        accelerator.load_state(str(ckpt / "accelerate"))
        start, cursor = int(saved["step"]), int(saved["cursor"])
    result = GRPOResult(final_dir=out / "final", resumed_from=start)
    fault_step = int(os.environ.get(FAULT_ENV, "0") or 0)
    micro = train.micro_batch_size

    for step in range(start, steps):
        model.eval()
        gen = generator or PolicyGenerator(accelerator.unwrap_model(model), processor, accelerator.device)
        kept, cursor, stats = collect_groups(items, cursor, step, grpo, gen, reward_fn, system_prompt,
                                             rank=rank, world=world, gather=gather)
        result.mean_rewards.append(sum(stats["rewards"]) / max(len(stats["rewards"]), 1))
        result.kept_groups.append(stats["kept"])
        lr = scheduler.get_last_lr()[0]
        result.lrs.append(lr)
        examples = [TrainExample(id=f"{q.id}/{i}", weight=a,
                                 messages=tuple(training_messages(q, text, system_prompt=system_prompt)))
                    for i, (q, text, a) in enumerate(kept)]
        loss_value = float("nan")
        if examples:
            slots = math.ceil(math.ceil(len(examples) / world) / micro) * micro
            mine = padded_share(list(range(len(examples))), rank, world, slots)
            batches = []
            local_tokens = 0
            for m in range(0, slots, micro):
                part = mine[m:m + micro]
                batch = collate([encode(processor, examples[i]) for i, _ in part], pad_id)
                batch["weight"] = torch.tensor([examples[i].weight if real else 0.0 for i, real in part])
                local_tokens += sum(int((batch["labels"][b, 1:] != -100).sum()) for b, (_, real) in enumerate(part)
                                    if real)
                batches.append({k: v.to(accelerator.device) for k, v in batch.items()})
            n_tokens = accelerator.reduce(torch.tensor(float(local_tokens), device=accelerator.device), reduction="sum")
            with torch.no_grad():  # the behaviour policy: the weights that generated the rollouts
                for batch in batches:
                    inputs = {k: v for k, v in batch.items() if k not in ("labels", "weight")}
                    batch["old_logprobs"] = token_logprobs(model(**inputs).logits, batch["labels"])[0]
            model.train()
            for _ in range(grpo.epochs_per_batch):
                loss_sum = torch.zeros((), device=accelerator.device)
                for j, batch in enumerate(batches):
                    inputs = {k: v for k, v in batch.items() if k not in ("labels", "weight", "old_logprobs")}
                    sync = j == len(batches) - 1
                    with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                        logp, mask = token_logprobs(model(**inputs).logits, batch["labels"])
                        loss = objective(logp, mask, batch).sum() / n_tokens
                        accelerator.backward(loss * world)  # DDP averages over ranks; undo it for a global mean
                    loss_sum += loss.detach()
                clip = train.max_grad_norm if train.max_grad_norm > 0 else float("inf")
                result.grad_norms.append(float(accelerator.clip_grad_norm_(model.parameters(), clip)))
                optimizer.step()
                optimizer.zero_grad()
            loss_value = float(accelerator.reduce(loss_sum, reduction="sum"))
        with warnings.catch_warnings():
            # A step whose groups all tied trains nothing yet still advances the schedule (the learning
            # rate follows the step count); torch warns about that order when it is the first step.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
            scheduler.step()
        result.losses.append(loss_value)
        result.steps = step + 1
        accelerator.print(f"[sophia grpo] step {step + 1}/{steps} reward={result.mean_rewards[-1]:.3f} "
                          f"groups_kept={stats['kept']}/{stats['groups']} lr={lr:.3g} loss={loss_value:.4g}")
        if sync_weights is not None and step + 1 < steps:
            _save_hf(accelerator, model, processor, out / ROLLOUT_DIR, save_dtype)
            accelerator.wait_for_everyone()
            sync_weights(out / ROLLOUT_DIR)
        if grpo.save_every and (step + 1) % grpo.save_every == 0 and step + 1 < steps:
            _save_checkpoint(accelerator, model, processor, out, step + 1,
                             {"step": step + 1, "cursor": cursor, "world_size": world}, train.keep_checkpoints,
                             save_dtype)
        if fault_step and step + 1 == fault_step:
            os.kill(os.getpid(), signal.SIGKILL)
    accelerator.wait_for_everyone()
    _save_hf(accelerator, model, processor, result.final_dir, save_dtype)
    accelerator.wait_for_everyone()
    return result
