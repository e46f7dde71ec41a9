"""Frozen, validated configuration for each SOPHIA stage (sampling, selection, update, GRPO).

Defaults are the paper's where it reports them (K = N = 8, alpha = 0.75, batch 512, lr 2e-5,
weight decay 0.05, cosine decay to 1/4 of the peak, GRPO lr 5e-7). Everything the paper does not
report (temperatures, epochs, warm-up, Adam betas, loss normalisation, length unit, tie-break) is
chosen here, documented on the field, and configurable. A recipe YAML is one mapping per stage:
`{sampling: {...}, selection: {...}, train: {...}, grpo: {...}}` (see `load_recipe`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

SELECTION_VARIANTS = ("sophia", "random", "no_caption_reward", "no_shortest")
LENGTH_UNITS = ("tokens", "chars")
LOSS_NORMALISATIONS = ("token", "sequence")
OBJECTIVES = ("reward_nll", "clipped_is")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
SYSTEM_PROMPT_MODES = ("auto", "slow_thinking", "default")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass(frozen=True)
class SamplingConfig:
    """Semi-off-policy sampling: K captions from the policy, N reasoning samples per caption."""

    num_captions: int = 8
    """K, captions per image from the policy (question withheld)."""
    num_reasonings: int = 8
    """N, reasoning samples per caption from the reasoner LLM."""
    caption_temperature: float = 1.0
    """Not reported by the paper; 1.0 gives diverse captions (the rewards then rank them)."""
    caption_top_p: float = 0.8
    """Matches the paper's decoding protocol (top-p 0.8)."""
    caption_max_new_tokens: int = 4096
    """Paper cap is 32768; captions are far shorter in practice."""
    reasoning_temperature: float = 1.0
    reasoning_top_p: float = 0.8
    reasoning_max_new_tokens: int = 32768
    """Paper: max length 32768 tokens for reasoning."""
    batch_size: int = 16
    """Conversations per generate call; one call's results are written before the next starts."""
    seed: int = 0
    """Base generation seed. Each generate call gets a seed derived from (seed, first item and sample
    index it fills) and backends add the prompt index, so a refill after a crash does not replay
    its siblings' seeds; a resumed run is not bit-identical to an uninterrupted one."""
    verify_timeout: float = 2.0
    """Seconds per verifier call (the verifier's own time limit)."""

    def __post_init__(self) -> None:
        for name in ("num_captions", "num_reasonings", "batch_size", "caption_max_new_tokens",
                     "reasoning_max_new_tokens"):
            _check(getattr(self, name) >= 1, f"SamplingConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("caption_temperature", "reasoning_temperature"):
            _check(getattr(self, name) >= 0, f"SamplingConfig.{name} must be >= 0 (0 = greedy)")
        for name in ("caption_top_p", "reasoning_top_p"):
            _check(0 < getattr(self, name) <= 1, f"SamplingConfig.{name} must be in (0, 1]")
        _check(self.verify_timeout > 0, "SamplingConfig.verify_timeout must be > 0 seconds")


@dataclass(frozen=True)
class SelectionConfig:
    """Which trajectories become training data (paper section 'Selection', Keep-1 / Keep-N)."""

    alpha: float = 0.75
    """Caption-reward threshold, STRICT: a caption qualifies only when R(c) > alpha."""
    keep: int = 1
    """Keep-N: trajectories kept per question (1 = Keep-1, the paper's default)."""
    variant: str = "sophia"
    """`sophia` (alpha + correct + shortest), or an ablation: `random` (any trajectory, no reward
    filter), `no_caption_reward` (shortest correct, alpha ignored), `no_shortest` (correct with
    R(c) > alpha, chosen at random instead of by length)."""
    length_unit: str = "tokens"
    """`tokens`: the reasoner's completion tokens as reported by the backend; `chars`: characters
    of the trajectory text (use when the reasoner does not report token counts)."""
    seed: int = 0
    """Seed for the random variants; the pick for an item depends only on (seed, item id)."""

    def __post_init__(self) -> None:
        _check(0 <= self.alpha < 1, f"SelectionConfig.alpha must be in [0, 1) (strict threshold), got {self.alpha}")
        _check(self.keep >= 1, f"SelectionConfig.keep must be >= 1 (Keep-1 is the paper's default), got {self.keep}")
        _check(self.variant in SELECTION_VARIANTS,
               f"SelectionConfig.variant must be one of {SELECTION_VARIANTS}, got {self.variant!r}")
        _check(self.length_unit in LENGTH_UNITS,
               f"SelectionConfig.length_unit must be one of {LENGTH_UNITS}, got {self.length_unit!r}")


@dataclass(frozen=True)
class MixConfig:
    """Data mixing for the update: SOPHIA trajectories + text-only reasoning + general VQA."""

    text_path: str | None = None
    """JSONL of text-only reasoning trajectories (`question`, `response`)."""
    text_ratio: float = 0.0
    """Text-only examples per SOPHIA example (0.5 = half as many); drawn without replacement and
    capped at the file's size."""
    vqa_path: str | None = None
    """JSONL of general VQA examples (`images`, `question`, `response`)."""
    vqa_ratio: float = 0.0
    """General VQA examples per SOPHIA example."""

    def __post_init__(self) -> None:
        for kind in ("text", "vqa"):
            ratio = getattr(self, f"{kind}_ratio")
            _check(ratio >= 0, f"MixConfig.{kind}_ratio must be >= 0, got {ratio}")
            _check(ratio == 0 or getattr(self, f"{kind}_path"),
                   f"MixConfig.{kind}_ratio is {ratio} but {kind}_path is not set; give the JSONL path or set the ratio to 0")


@dataclass(frozen=True)
class TrainConfig:
    """The policy update: reward-weighted NLL through Accelerate."""

    model: str = ""
    """Policy checkpoint: hub id or local directory (HF format)."""
    output_dir: str = "sophia-out"
    """Checkpoints go to `<output_dir>/checkpoint-<step>`; the final model to `<output_dir>/final`."""
    lr: float = 2e-5
    min_lr_ratio: float = 0.25
    """Cosine decay ends at `lr * min_lr_ratio` (paper: 1/4 of the peak)."""
    warmup_steps: int = 0
    """Linear warm-up optimizer steps (not reported by the paper)."""
    weight_decay: float = 0.05
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    """Not reported by the paper; 0.95 is the usual large-model choice."""
    max_grad_norm: float = 1.0
    """Gradient clipping by global norm; 0 disables."""
    global_batch_size: int = 512
    """Examples per optimizer step across all processes (paper: 512), via accumulation."""
    micro_batch_size: int = 1
    """Examples per forward pass per process."""
    epochs: int = 1
    max_steps: int | None = None
    """Stop after this many optimizer steps (None = `epochs` full passes)."""
    max_length: int = 32768
    """Sequences longer than this (prompt + trajectory tokens) are dropped, and counted."""
    freeze_vision: bool = True
    """Freeze the vision encoder and the projector (paper default); only the LM trains."""
    trust_remote_code: bool = False
    """Opt in to the checkpoint's own modelling code (e.g. `OpenGVLab/InternVL3-8B`; the `-hf`
    variant needs none). Off by default: it runs code from the model repository."""
    gradient_checkpointing: bool = True
    mixed_precision: str = "auto"
    """Compute precision (autocast): `auto` = bf16 when the accelerator supports it, else full
    precision. Weights are always loaded in float32, so the optimizer updates fp32 masters."""
    objective: str = "reward_nll"
    """`reward_nll` (the paper's) or `clipped_is` (needs `policy_logprobs` in the records)."""
    loss_normalisation: str = "token"
    """`token`: sum of weighted token NLL / tokens in the global batch; `sequence`: each
    sequence's mean token NLL, averaged over the global batch."""
    clip_epsilon: float = 0.2
    """Ratio clip for `clipped_is`."""
    system_prompt: str = "auto"
    """`auto`: slow-thinking system prompt for `<think>` trajectories, model default otherwise
    (as in the paper); `slow_thinking` / `default` force one."""
    save_every: int = 0
    """Save a resumable checkpoint every this many optimizer steps (0 = only at the end)."""
    keep_checkpoints: int = 2
    """Resumable checkpoints kept on disk (oldest deleted first); the final model is always kept."""
    seed: int = 0
    find_unused_parameters: bool = True
    """DDP: required when some parameters get no gradient (LLaVA's unused vision layer, frozen
    towers); without it DDP silently skips gradient sync for the whole bucket."""
    log_with: str | None = None
    """`tensorboard` or `wandb` (when installed); console metrics are always printed."""
    mix: MixConfig = field(default_factory=MixConfig)

    def __post_init__(self) -> None:
        _check(self.lr > 0, f"TrainConfig.lr must be > 0, got {self.lr}")
        _check(0 <= self.min_lr_ratio <= 1, f"TrainConfig.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        _check(self.warmup_steps >= 0, "TrainConfig.warmup_steps must be >= 0")
        _check(self.weight_decay >= 0, "TrainConfig.weight_decay must be >= 0")
        _check(self.global_batch_size >= 1 and self.micro_batch_size >= 1,
               "TrainConfig.global_batch_size and micro_batch_size must be >= 1")
        _check(self.epochs >= 1, "TrainConfig.epochs must be >= 1")
        _check(self.max_steps is None or self.max_steps >= 1, "TrainConfig.max_steps must be >= 1 or None")
        _check(self.max_length >= 8, "TrainConfig.max_length must be >= 8 tokens")
        _check(self.mixed_precision in MIXED_PRECISION,
               f"TrainConfig.mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}")
        _check(self.objective in OBJECTIVES, f"TrainConfig.objective must be one of {OBJECTIVES}, got {self.objective!r}")
        _check(self.loss_normalisation in LOSS_NORMALISATIONS,
               f"TrainConfig.loss_normalisation must be one of {LOSS_NORMALISATIONS}, got {self.loss_normalisation!r}")
        _check(self.system_prompt in SYSTEM_PROMPT_MODES,
               f"TrainConfig.system_prompt must be one of {SYSTEM_PROMPT_MODES}, got {self.system_prompt!r}")
        _check(self.save_every >= 0 and self.keep_checkpoints >= 1,
               "TrainConfig.save_every must be >= 0 and keep_checkpoints >= 1")
        _check(self.log_with in (None, "tensorboard", "wandb"),
               f"TrainConfig.log_with must be tensorboard, wandb or None, got {self.log_with!r}")
        if isinstance(self.mix, Mapping):  # built from YAML
            object.__setattr__(self, "mix", MixConfig(**self.mix))

    def accumulation_steps(self, world_size: int) -> int:
        """Micro-batches per process per optimizer step, so that the global batch is exact."""
        per_step = self.micro_batch_size * world_size
        if self.global_batch_size % per_step:
            raise ValueError(
                f"TrainConfig.global_batch_size={self.global_batch_size} is not divisible by "
                f"micro_batch_size * processes = {self.micro_batch_size} * {world_size}; "
                "choose a global batch that is a multiple of it")
        return self.global_batch_size // per_step


@dataclass(frozen=True)
class GRPOConfig:
    """Optional on-policy GRPO after SOPHIA, with the same binary verifier reward."""

    questions_per_step: int = 64
    """Groups with a learning signal per step (paper: 64 questions x 8 rollouts); dropped groups
    are refilled with further questions (`max_refill_rounds`)."""
    rollouts: int = 8
    """Rollouts per question (the group)."""
    lr: float = 5e-7
    min_lr_ratio: float = 0.25
    """Cosine decay to `lr * min_lr_ratio` at the last step (ours: the paper's SFT schedule)."""
    warmup_steps: int = 0
    clip_epsilon: float = 0.2
    max_new_tokens: int = 16384
    temperature: float = 1.0
    top_p: float = 0.8
    """The paper's decoding protocol (top-p 0.8)."""
    min_pass_rate: float = 0.4
    """Questions are kept for GRPO when their measured pass rate is in [min, max]."""
    max_pass_rate: float = 0.6
    epochs_per_batch: int = 1
    """Gradient passes over one batch of rollouts (>1 makes the clipping matter)."""
    max_refill_rounds: int = 2
    """Extra rollout rounds per step to replace groups that were all correct or all wrong (0 = none)."""
    save_every: int = 0
    """Save a resumable checkpoint every this many steps (0 = only the final model)."""
    seed: int = 0
    """Question order and rollout seeds derive from it, so a resumed run repeats an uninterrupted one."""

    def __post_init__(self) -> None:
        _check(self.questions_per_step >= 1 and self.rollouts >= 2,
               "GRPOConfig needs questions_per_step >= 1 and rollouts >= 2 (a group of one has no advantage)")
        _check(self.lr > 0 and self.clip_epsilon > 0, "GRPOConfig.lr and clip_epsilon must be > 0")
        _check(0 <= self.min_pass_rate <= self.max_pass_rate <= 1,
               "GRPOConfig needs 0 <= min_pass_rate <= max_pass_rate <= 1")
        _check(self.epochs_per_batch >= 1, "GRPOConfig.epochs_per_batch must be >= 1")
        _check(0 < self.top_p <= 1, f"GRPOConfig.top_p must be in (0, 1], got {self.top_p}")
        _check(0 <= self.min_lr_ratio <= 1, f"GRPOConfig.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        _check(self.warmup_steps >= 0 and self.max_refill_rounds >= 0 and self.save_every >= 0,
               "GRPOConfig.warmup_steps, max_refill_rounds and save_every must be >= 0")


@dataclass(frozen=True)
class PromptConfig:
    """The two SOPHIA sampling prompts (recipe section `prompts`); `None` keeps the built-in one.

    Used wherever those prompts are built: `sophia sample`, warm-up rows with `prompt: caption` or
    `reasoning`, and `sophia round`, so a policy warmed up on a prompt is sampled with the same one.
    Custom prompts suit small models with short contexts or other domains; the default wording is
    for competition math figures."""

    caption: str | None = None
    """Instruction given to the policy with the image(s) (the question is withheld)."""
    reasoning: str | None = None
    """Template for the reasoner with the fields `{caption}` and `{question}` (literal braces as
    `{{` `}}`); the built-in one adds a worked one-shot example."""

    def __post_init__(self) -> None:
        _check(self.caption is None or bool(self.caption.strip()), "PromptConfig.caption must be non-empty text or unset")
        if self.reasoning is not None:
            for name in ("{caption}", "{question}"):
                _check(name in self.reasoning, f"PromptConfig.reasoning must contain {name} (where the reasoner sees it)")
            try:
                self.reasoning.format(caption="", question="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"PromptConfig.reasoning is not a valid template ({type(exc).__name__}: {exc}); "
                                 "only {caption} and {question} are fields, write other braces as {{ and }}") from exc


_STAGES: dict[str, type] = {
    "sampling": SamplingConfig, "prompts": PromptConfig, "selection": SelectionConfig, "train": TrainConfig, "grpo": GRPOConfig,
}


def build(cls: type, values: Mapping[str, Any] | None, *, where: str = "config") -> Any:
    """Instantiate a config dataclass, naming unknown keys (typos) instead of ignoring them."""
    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} for {cls.__name__}; known keys: {sorted(known)}")
    return cls(**values)


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a recipe YAML into `{stage: config}` plus any plain top-level keys (`policy`, ...)."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read recipe: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a recipe must be a mapping of stage name -> settings, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _STAGES:
            out[key] = build(_STAGES[key], value, where=f"{path} [{key}]")
        else:
            out[key] = value
    return out


def override(config: Any, **changes: Any) -> Any:
    """Copy of a frozen config with the non-None `changes` applied (CLI flags over a recipe)."""
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})
