"""The SOPHIA policy update: reward-weighted NLL through Hugging Face Accelerate.

Read top to bottom: set up Accelerate -> load the policy and freeze the vision side -> measure
every example once (so each global batch's token count is known to all processes) -> loop over
optimizer steps, each a fixed global batch of `global_batch_size` examples split over processes
and accumulation steps -> checkpoint (HF weights + optimizer/scheduler/RNG/data position) ->
final HF-format model in `<output_dir>/final`.

The same code runs on one CPU process, under `torchrun`/`accelerate launch` with several
processes, and with DeepSpeed ZeRO-3 or FSDP configs (see `train/accelerate/`). Simplifications,
on purpose: the data order is a seeded permutation per epoch and the data position is just the
optimizer-step counter, so resuming never needs a dataloader state; the final partial global batch
of an epoch is trained, padded with zero-weight copies so every process runs the same number of
micro-batches (DDP and DeepSpeed need that); examples are encoded on the fly.

Precision: the policy is always loaded in float32 (master weights, so AdamW's small updates are
not rounded away in bf16 parameters); `mixed_precision: bf16` runs forward/backward under bf16
autocast (DeepSpeed keeps its own bf16 copy and fp32 master). Saved HF models are cast back to
the checkpoint's own dtype.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from sophia_eval.backends.hf_loading import save_processor
from sophia_eval.sophia.config import TrainConfig
from sophia_eval.sophia.dataset import TrainExample, collate, encode
from sophia_eval.sophia.objective import aligned_old_logprobs, make_objective, reduce_loss, token_logprobs

# Top-level module names of vision encoders and projectors across HF VLM families (Qwen2/2.5-VL:
# `visual` incl. its merger; LLaVA / InternVL-hf: `vision_tower` + `multi_modal_projector`;
# InternVL remote code: `vision_model` + `mlp1`; Idefics/SmolVLM: `vision_model` + `connector`).
VISION_MODULE_NAMES = frozenset({"visual", "vision_tower", "vision_model", "multi_modal_projector", "mlp1",
                                 "connector", "image_newline", "vision_embed_tokens"})
FAULT_ENV = "SOPHIA_FAULT_AFTER_STEP"
"""Fault injection for the resume test: SIGKILL this process right after that optimizer step."""
STATE_FILE = "trainer_state.json"


@dataclass
class TrainResult:
    final_dir: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    """Global-batch loss per optimizer step run in this invocation (resumed steps excluded)."""
    grad_norms: list[float] = field(default_factory=list)
    """Global gradient norm per step, before clipping (same for any process count / accumulation)."""
    n_examples: int = 0
    n_dropped_too_long: int = 0
    resumed_from: int = 0
    world_size: int = 1
    param_digest: str = ""
    """sha256 over this process's parameters after the last step (equal on every rank when in sync)."""


def parameter_digest(model: Any) -> str:
    """Digest of all parameter values in name order (to check that data-parallel ranks agree)."""
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _is_vision_param(name: str) -> bool:
    return any(part in VISION_MODULE_NAMES for part in name.split("."))


def freeze_vision(model: Any) -> int:
    """Freeze vision encoder + projector; return the number of frozen parameters (0 for text LMs)."""
    frozen = 0
    for name, p in model.named_parameters():
        if _is_vision_param(name):
            p.requires_grad_(False)
            frozen += full_numel(p)
    return frozen


def full_numel(p: Any) -> int:
    """Elements of a parameter; under ZeRO-3 `p` is an empty local shard and `ds_numel` the full size."""
    return int(getattr(p, "ds_numel", None) or p.numel())


def padded_share(batch_ids: Sequence[int], rank: int, world: int, slots: int) -> list[tuple[int, bool]]:
    """This process's examples of a global batch as (index, real), padded to `slots` with zero-weight
    copies of the batch's first example: every process must run the same number of forward/backward
    passes, and a partial last batch would otherwise leave some processes short."""
    mine = [(i, True) for i in batch_ids[rank::world]]
    return mine + [(batch_ids[0], False)] * (slots - len(mine))


def policy_config(model_id: str, *, trust_remote_code: bool = False) -> Any:
    """The checkpoint's config (cheap: no weights), e.g. to size DeepSpeed buckets before loading."""
    from transformers import AutoConfig

    from sophia_eval.backends.hf_loading import check_model_path

    check_model_path(model_id)
    return AutoConfig.from_pretrained(model_id, trust_remote_code=trust_remote_code)


def checkpoint_dtype(cfg: Any) -> Any:
    """The dtype the checkpoint was saved in (float32 when it does not say)."""
    import torch

    for c in (cfg, getattr(cfg, "get_text_config", lambda: None)()):
        value = getattr(c, "dtype", None) or getattr(c, "torch_dtype", None) if c is not None else None
        if isinstance(value, str):
            value = getattr(torch, value, None)
        if isinstance(value, torch.dtype):
            return value
    return torch.float32


def load_policy(model_id: str, *, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """(model, processor) for a VLM (image-text-to-text) or a text causal LM, weights in float32.

    float32 whatever the checkpoint's dtype: these are the master weights the optimizer updates
    (transformers 5 would otherwise keep a bf16 checkpoint in bf16, and lr 2e-5 updates then
    mostly round to nothing). Compute precision is Accelerate's `mixed_precision` (autocast).
    `trust_remote_code`: opt in to the checkpoint's own modelling code (e.g. OpenGVLab/InternVL3-8B,
    not the `-hf` variant).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    from sophia_eval.backends.hf_loading import load_processor

    cfg = policy_config(model_id, trust_remote_code=trust_remote_code)
    auto = AutoModelForImageTextToText if _is_vlm_config(cfg) else AutoModelForCausalLM
    model = auto.from_pretrained(model_id, trust_remote_code=trust_remote_code, dtype=torch.float32)
    return model, load_processor(model_id, trust_remote_code=trust_remote_code)


def _is_vlm_config(cfg: Any) -> bool:
    return hasattr(cfg, "vision_config")


def text_hidden_size(cfg: Any) -> int:
    """Hidden size of the language model. Composite VLM configs keep it in `text_config`
    (InternVL-hf, Qwen2.5-VL, LLaVA) or `llm_config` (InternVL remote code), not at the top."""
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    for c in (text, getattr(cfg, "llm_config", None), cfg):
        size = getattr(c, "hidden_size", None) if c is not None else None
        if isinstance(size, int) and size > 0:
            return size
    raise ValueError(f"{type(cfg).__name__}: no hidden_size in the config or its text/llm config; set the "
                     "DeepSpeed bucket sizes in train/accelerate/ds_zero3.json to integers instead of \"auto\"")


# DeepSpeed ZeRO-3 keys Accelerate sizes from `model.config.hidden_size` (absent on composite VLM
# configs, so it refuses to start); the same formulas, from the text config.
DS_HIDDEN_SIZE_KEYS = {
    "reduce_bucket_size": lambda h: h * h,
    "stage3_prefetch_bucket_size": lambda h: int(0.9 * h * h),
    "stage3_param_persistence_threshold": lambda h: 10 * h,
}


def fill_deepspeed_buckets(ds_config: dict[str, Any], cfg: Any) -> dict[str, int]:
    """Replace `"auto"` hidden-size-based ZeRO keys in `ds_config` (in place); returns what was filled."""
    zero = ds_config.setdefault("zero_optimization", {})
    auto = [k for k in DS_HIDDEN_SIZE_KEYS if zero.get(k) == "auto"]
    if not auto:
        return {}
    h = text_hidden_size(cfg)
    filled = {k: DS_HIDDEN_SIZE_KEYS[k](h) for k in auto}
    zero.update(filled)
    return filled


def lr_lambda(config: TrainConfig, total_steps: int):
    """Linear warm-up, then cosine decay from the peak to `min_lr_ratio` of it at the last step."""

    def fn(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        span = max(total_steps - config.warmup_steps - 1, 1)
        progress = min((step - config.warmup_steps) / span, 1.0)
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return fn


def _mixed_precision(setting: str) -> str:
    if setting != "auto":
        return setting
    import torch

    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def _no_accelerator() -> bool:
    """True on CPU-only machines: Accelerate then needs `cpu=True` to see a torchrun launch as
    multi-process (gloo); otherwise every process would silently train alone. False under a
    DeepSpeed launch: `cpu=True` would silently drop DeepSpeed (it runs on CPU by itself)."""
    import torch

    from accelerate.utils import str_to_bool

    if str_to_bool(os.environ.get("ACCELERATE_USE_DEEPSPEED", "false")):
        return False
    probe = getattr(torch, "accelerator", None)
    return not (probe.is_available() if probe is not None else torch.cuda.is_available())


def _run_fingerprint(config: TrainConfig, examples: Sequence[TrainExample], world: int) -> str:
    """What must match for a resume to continue the same run (output/save/log settings excluded)."""
    keep = {k: v for k, v in dataclasses.asdict(config).items()
            if k not in ("output_dir", "save_every", "keep_checkpoints", "log_with", "max_steps")}
    h = hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode())
    for ex in examples:
        h.update(json.dumps([ex.id, ex.weight, ex.messages], sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _latest_checkpoint(out: Path) -> Path | None:
    done = [p for p in out.glob("checkpoint-*") if (p / STATE_FILE).exists() and p.name.split("-")[-1].isdigit()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _measure(examples: Sequence[TrainExample], processor: Any, accelerator: Any) -> list[tuple[int, int]]:
    """(total tokens, target tokens) per example; each process encodes its share, then all gather."""
    from accelerate.utils import gather_object

    mine = [(i, *_lengths(encode(processor, examples[i])))
            for i in range(accelerator.process_index, len(examples), accelerator.num_processes)]
    rows = gather_object(mine) if accelerator.num_processes > 1 else mine
    lengths = [(0, 0)] * len(examples)
    for i, total, target in rows:
        lengths[i] = (total, target)
    return lengths


def _lengths(enc: dict[str, Any]) -> tuple[int, int]:
    return int(enc["input_ids"].shape[1]), int((enc["labels"] != -100).sum())


def _save_hf(accelerator: Any, model: Any, processor: Any, path: Path, dtype: Any = None) -> None:
    """HF-format model + processor; floating weights cast to `dtype` (the checkpoint's own, so a
    bf16 policy is not saved at twice its size because training kept float32 masters)."""
    state = accelerator.get_state_dict(model)  # collective under ZeRO-3 / FSDP: every rank calls it
    if accelerator.is_main_process:
        if dtype is not None:
            state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        accelerator.unwrap_model(model).save_pretrained(path, state_dict=state, save_function=accelerator.save)
        if dtype is not None:
            _record_dtype(Path(path) / "config.json", str(dtype).removeprefix("torch."))
        save_processor(processor, path)


def _record_dtype(config_file: Path, dtype: str) -> None:
    """save_pretrained records the in-memory (float32) dtype; record the saved weights' dtype."""
    cfg = json.loads(config_file.read_text(encoding="utf-8"))
    for c in (cfg, *(v for v in cfg.values() if isinstance(v, dict))):
        if "dtype" in c or c is cfg:
            c["dtype"] = dtype
    config_file.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _save_checkpoint(accelerator, model, processor, out: Path, step: int, state: dict, keep: int,
                     dtype: Any = None) -> Path:
    final = out / f"checkpoint-{step}"
    tmp = out / f".checkpoint-{step}.tmp"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    _save_hf(accelerator, model, processor, tmp, dtype)
    accelerator.save_state(str(tmp / "accelerate"), safe_serialization=False)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")  # marks it complete
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        old = sorted((p for p in out.glob("checkpoint-*") if (p / STATE_FILE).exists()),
                     key=lambda p: int(p.name.split("-")[-1]))
        for p in old[:-keep]:
            shutil.rmtree(p, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def train(config: TrainConfig, examples: Sequence[TrainExample], *, resume: bool = True,
          param_digest: bool = False) -> TrainResult:
    """Run (or resume) the update over `examples`; returns where the final HF model is.

    A finished run (same fingerprint in `final/sophia_train.json`) is not trained again.
    `param_digest`: hash this process's parameters at the end (to check ranks agree; costs a
    pass over all weights).
    """
    import torch
    from accelerate import Accelerator, PartialState
    from accelerate.utils import DistributedDataParallelKwargs, set_seed
    from rich.progress import Progress

    if not config.model:
        raise ValueError("TrainConfig.model is empty; give the policy checkpoint (hub id or local directory)")
    if not examples:
        raise ValueError("no training examples: the selection kept nothing (lower alpha, sample more captions "
                         "or reasoning samples, or check the verifier's status counts)")
    out = Path(config.output_dir)
    if config.log_with:
        import importlib.util

        module = {"tensorboard": "tensorboard", "wandb": "wandb"}[config.log_with]
        if importlib.util.find_spec(module) is None and not (
                module == "tensorboard" and importlib.util.find_spec("tensorboardX")):
            raise ValueError(f"TrainConfig.log_with={config.log_with!r} but {module} is not installed; "
                             "pip install 'sophia-eval[tracking]' (tensorboard) or wandb, or set log_with to null")
    # The world size fixes the accumulation, which DeepSpeed must know when the Accelerator is built.
    world = PartialState(cpu=_no_accelerator()).num_processes
    accum = config.accumulation_steps(world)
    accelerator = Accelerator(
        cpu=_no_accelerator(),
        gradient_accumulation_steps=accum,
        mixed_precision=_mixed_precision(config.mixed_precision),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=config.find_unused_parameters)],
        log_with=config.log_with, project_dir=str(out),
    )
    rank = accelerator.process_index
    policy_cfg = policy_config(config.model, trust_remote_code=config.trust_remote_code)
    ds = accelerator.state.deepspeed_plugin
    if ds is not None:
        # Before loading: under zero3_init the model is partitioned as it is built from this config.
        fill_deepspeed_buckets(ds.deepspeed_config, policy_cfg)  # no prepared dataloader, so fill DeepSpeed's "auto" batch settings ourselves
        ds.deepspeed_config["train_micro_batch_size_per_gpu"] = config.micro_batch_size
        ds.deepspeed_config["train_batch_size"] = config.global_batch_size
        ds.deepspeed_config["gradient_accumulation_steps"] = accum
        if ds.deepspeed_config.get("gradient_clipping", "auto") == "auto":
            ds.deepspeed_config["gradient_clipping"] = config.max_grad_norm
    set_seed(config.seed)

    model, processor = load_policy(config.model, trust_remote_code=config.trust_remote_code)
    save_dtype = checkpoint_dtype(policy_cfg)
    n_frozen = freeze_vision(model) if config.freeze_vision else 0
    model.config.use_cache = False
    if config.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2 name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    pad_id = getattr(processor, "tokenizer", processor).pad_token_id
    pad_id = 0 if pad_id is None else pad_id

    # Every process measures the data identically, so global token counts need no communication.
    lengths = _measure(examples, processor, accelerator)
    kept = [i for i, (total, target) in enumerate(lengths) if total <= config.max_length and target > 0]
    gbs = config.global_batch_size
    if not kept:
        raise ValueError(f"no usable examples: all {len(examples)} are longer than max_length={config.max_length} "
                         "tokens or have no target tokens; raise max_length or check the data")
    steps_per_epoch = math.ceil(len(kept) / gbs)  # the last global batch of an epoch may be partial
    total_steps = min(steps_per_epoch * config.epochs, config.max_steps or 10**12)

    # Biases and norm weights get no weight decay; ZeRO-3 partitions parameters at load time, so the
    # real rank comes from `ds_shape` there.
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if len(getattr(p, "ds_shape", p.shape)) >= 2]
    no_decay = [p for p in trainable if len(getattr(p, "ds_shape", p.shape)) < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr, betas=(config.adam_beta1, config.adam_beta2))
    # Not passed to prepare(): Accelerate would step it once per process per step.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config, total_steps))
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    objective = make_objective(config.objective, clip_epsilon=config.clip_epsilon)

    fingerprint = _run_fingerprint(config, examples, world)
    done_file = out / "final" / "sophia_train.json"
    if resume and done_file.exists():
        done = json.loads(done_file.read_text(encoding="utf-8"))
        if done.get("fingerprint") == fingerprint and done.get("steps") == total_steps:
            accelerator.print(f"[sophia train] {done_file.parent} is already complete for this run; nothing to do")
            return TrainResult(final_dir=out / "final", steps=total_steps, n_examples=len(kept),
                               n_dropped_too_long=len(examples) - len(kept), resumed_from=total_steps,
                               world_size=world)
    start = 0
    ckpt = _latest_checkpoint(out) if resume else None
    if ckpt is not None:
        saved = json.loads((ckpt / STATE_FILE).read_text(encoding="utf-8"))
        if saved["fingerprint"] != fingerprint:
            raise ValueError(f"{ckpt}: checkpoint belongs to a different run (config or data changed); "
                             "use a new output_dir or pass resume=False")
        accelerator.load_state(str(ckpt / "accelerate"))
        start = int(saved["step"])
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        accelerator.print(f"[sophia train] {len(kept)} examples ({len(examples) - len(kept)} dropped), {world} "
                          f"process(es) x {accum} accumulation x micro-batch {config.micro_batch_size} = global "
                          f"batch {gbs}; {total_steps} steps; frozen vision params: {n_frozen}"
                          + (f"; resuming after step {start}" if start else ""))
    if config.log_with:
        accelerator.init_trackers("sophia", config={k: str(v) for k, v in dataclasses.asdict(config).items()})

    result = TrainResult(final_dir=out / "final", steps=total_steps, n_examples=len(kept),
                         n_dropped_too_long=len(examples) - len(kept), resumed_from=start, world_size=world)
    model.train()
    fault_step = int(os.environ.get(FAULT_ENV, "0") or 0)
    with Progress(disable=not accelerator.is_main_process) as progress:
        task = progress.add_task("sophia train", total=total_steps, completed=start)
        for step in range(start, total_steps):
            t0 = time.time()
            epoch, pos = divmod(step, steps_per_epoch)
            order = list(kept)
            random.Random(f"{config.seed}:epoch{epoch}").shuffle(order)
            batch_ids = order[pos * gbs:(pos + 1) * gbs]
            g_tokens = sum(lengths[i][1] for i in batch_ids)
            by_source: dict[str, int] = {}
            for i in batch_ids:  # the data mix as trained, in target tokens
                by_source[examples[i].source] = by_source.get(examples[i].source, 0) + lengths[i][1]
            mine = padded_share(batch_ids, rank, world, accum * config.micro_batch_size)
            loss_sum = torch.zeros((), device=accelerator.device)
            for m in range(accum):
                part = mine[m * config.micro_batch_size:(m + 1) * config.micro_batch_size]
                micro = [examples[i] for i, _ in part]
                batch = collate([encode(processor, ex) for ex in micro], pad_id)
                batch["weight"] = torch.tensor([ex.weight if real else 0.0 for ex, (_, real) in zip(micro, part)])
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                with accelerator.accumulate(model):
                    inputs = {k: v for k, v in batch.items() if k not in ("labels", "weight", "old_logprobs")}
                    if config.objective == "clipped_is":
                        # Behaviour policy: the stored pre-update log-probs (behaviour.py) when present,
                        # else the policy at the start of this step (the ratio then starts at 1).
                        stored = aligned_old_logprobs(micro, batch["labels"][:, 1:] != -100)
                        if stored is None:
                            with torch.no_grad():
                                stored = token_logprobs(model(**inputs).logits, batch["labels"])[0]
                        batch["old_logprobs"] = stored
                    logits = model(**inputs).logits
                    logp, mask = token_logprobs(logits, batch["labels"])
                    share = reduce_loss(objective(logp, mask, batch), mask, config.loss_normalisation,
                                        global_tokens=g_tokens, global_sequences=len(batch_ids))
                    # Accelerate divides by `accum` and DDP averages over processes; undo both so the
                    # gradient is that of the global-batch loss (sum of all shares).
                    accelerator.backward(share * world * accum)
                    loss_sum += share.detach()
                    grad_norm = None
                    if accelerator.sync_gradients and config.max_grad_norm > 0:
                        grad_norm = accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad()
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            loss = float(accelerator.reduce(loss_sum, reduction="sum"))
            result.losses.append(loss)
            if grad_norm is not None:
                result.grad_norms.append(float(grad_norm))
            metrics = {"loss": loss, "lr": lr, "tokens": g_tokens, "step_time_s": time.time() - t0,
                       **({"grad_norm": float(grad_norm)} if grad_norm is not None else {}),
                       **({f"tokens_{k}": v for k, v in sorted(by_source.items())} if len(by_source) > 1 else {})}
            if config.log_with:
                accelerator.log(metrics, step=step + 1)
            accelerator.print(f"[sophia train] step {step + 1}/{total_steps} "
                              + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
            progress.update(task, advance=1)
            if config.save_every and (step + 1) % config.save_every == 0 and step + 1 < total_steps:
                _save_checkpoint(accelerator, model, processor, out, step + 1,
                                 {"step": step + 1, "epoch": epoch, "fingerprint": fingerprint, "world_size": world},
                                 config.keep_checkpoints, save_dtype)
            if fault_step and step + 1 == fault_step:
                os.kill(os.getpid(), signal.SIGKILL)

    accelerator.wait_for_everyone()
    if param_digest:
        result.param_digest = parameter_digest(accelerator.unwrap_model(model))
    _save_hf(accelerator, model, processor, result.final_dir, save_dtype)
    if accelerator.is_main_process:
        (result.final_dir / "sophia_train.json").write_text(json.dumps({
            "config": dataclasses.asdict(config), "steps": total_steps, "n_examples": len(kept),
            "n_dropped": result.n_dropped_too_long, "world_size": world, "fingerprint": fingerprint,
        }, indent=2, default=str), encoding="utf-8")
    if config.log_with:
        accelerator.end_training()
    accelerator.wait_for_everyone()
    return result
