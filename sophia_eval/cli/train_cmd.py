"""`sophia-eval sophia sample|select|train|round`: one command per SOPHIA stage, one for the round.

Settings come from a recipe YAML (`--recipe`, see train/recipes/) with flags on top. `train`
runs under any launcher: `torchrun --nproc_per_node 8 $(which sophia-eval) sophia train ...` or
`accelerate launch --config_file train/accelerate/zero3.yaml train/sophia_round.py train ...`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

sophia_app = typer.Typer(help="SOPHIA training: sample -> select -> train (-> evaluate).", no_args_is_help=True)


def _errors() -> tuple[type[BaseException], ...]:
    from sophia_eval.cli.run_cmd import known_errors
    from sophia_eval.runs.jsonl import RecordError
    from sophia_eval.sophia.selection import EmptySelectionError
    from sophia_eval.sophia.warmup import WarmupDataError

    return (*known_errors(), RecordError, EmptySelectionError, WarmupDataError)


def _recipe(path: Optional[Path]) -> dict[str, Any]:
    from sophia_eval.sophia.config import load_recipe

    return load_recipe(path) if path else {}


def _stage(recipe: dict[str, Any], name: str, cls: type, **flags: Any) -> Any:
    from sophia_eval.sophia.config import override

    return override(recipe.get(name) or cls(), **flags)


def _pick(flag: Any, recipe: dict[str, Any], key: str, what: str) -> Any:
    value = flag if flag is not None else recipe.get(key)
    if value is None:
        raise ValueError(f"no {what}: pass --{key.replace('_', '-')} or set `{key}:` in the recipe")
    return value


def _generator(role: str, backend: str, model: str, options: list[str], base_url: Optional[str]) -> Any:
    from sophia_eval.backends import BackendError, make_generator
    from sophia_eval.cli.run_cmd import parse_options

    opts = parse_options(options)
    if base_url:
        opts["base_url"] = base_url
    try:
        return make_generator(backend, model, **opts)
    except BackendError as exc:
        raise BackendError(f"{role} ({backend} backend, model {model!r}; set with --{role}-url/--{role}-option): "
                           f"{exc}") from exc


def _print_json(obj: Any) -> None:
    import json

    typer.echo(json.dumps(obj, indent=2, default=str))


def _guard(fn):
    """Turn known errors into a one-line message and exit code 2 (no traceback)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _errors() as exc:
            from sophia_eval.cli.run_cmd import fail

            raise fail(exc) from None

    return wrapper


RecipeOpt = typer.Option(None, "--recipe", "-r", help="Recipe YAML (train/recipes/*.yaml)")


@sophia_app.command("sample")
@_guard
def sample(
    items: Optional[Path] = typer.Option(None, "--items", help="Training set JSONL (image(s), question, answer)"),
    policy: Optional[str] = typer.Option(None, "--policy", help="Policy VLM: hub id or local dir"),
    policy_backend: Optional[str] = typer.Option(None, "--policy-backend",
                                                 help="transformers | vllm | openai (default: recipe, else transformers)"),
    policy_url: Optional[str] = typer.Option(None, "--policy-url", help="openai backend: policy server URL"),
    policy_option: list[str] = typer.Option([], "--policy-option", help="key=value (repeatable)"),
    reasoner: Optional[str] = typer.Option(None, "--reasoner", help="Reasoning LLM (served name for openai)"),
    reasoner_backend: Optional[str] = typer.Option(None, "--reasoner-backend",
                                                   help="openai | vllm | transformers (default: recipe, else openai)"),
    reasoner_url: Optional[str] = typer.Option(None, "--reasoner-url", help="e.g. http://localhost:8000/v1"),
    reasoner_option: list[str] = typer.Option([], "--reasoner-option", help="key=value (repeatable)"),
    out: Path = typer.Option(..., "--out", help="Sampling directory (resumed if it exists)"),
    num_captions: Optional[int] = typer.Option(None, "-K", "--num-captions"),
    num_reasonings: Optional[int] = typer.Option(None, "-N", "--num-reasonings"),
    limit: Optional[int] = typer.Option(None, help="Only the first N items"),
    recipe: Optional[Path] = RecipeOpt,
) -> None:
    """Stage 1: K captions per image (policy), N reasoning samples per caption (reasoner), rewards."""
    from sophia_eval.sophia.config import SamplingConfig
    from sophia_eval.sophia.items import load_training_items
    from sophia_eval.sophia.sampling import run_sampling

    r = _recipe(recipe)
    cfg = _stage(r, "sampling", SamplingConfig, num_captions=num_captions, num_reasonings=num_reasonings)
    data = load_training_items(_pick(items, r, "items", "training set"), limit=limit)
    # The reasoner first: a down endpoint should fail before a large policy is loaded.
    rsn = _generator("reasoner", reasoner_backend or r.get("reasoner_backend", "openai"),
                     _pick(reasoner, r, "reasoner", "reasoner model"), reasoner_option, reasoner_url or r.get("reasoner_url"))
    pol = _generator("policy", policy_backend or r.get("policy_backend", "transformers"),
                     _pick(policy, r, "policy", "policy model"), policy_option, policy_url)
    import dataclasses

    _print_json(dataclasses.asdict(run_sampling(data, pol, rsn, out, cfg, prompts=r.get("prompts"))))


@sophia_app.command("select")
@_guard
def select(
    sampling: Path = typer.Option(..., "--sampling", help="Sampling directory from `sophia sample`"),
    items: Optional[Path] = typer.Option(None, "--items", help="The training set JSONL that was sampled"),
    out: Path = typer.Option(..., "--out", help="Selection directory (selected.jsonl, summary.json)"),
    alpha: Optional[float] = typer.Option(None, help="Caption-reward threshold, strict (default 0.75)"),
    keep: Optional[int] = typer.Option(None, help="Keep-N trajectories per question (default 1)"),
    variant: Optional[str] = typer.Option(None, help="sophia | random | no_caption_reward | no_shortest"),
    length_unit: Optional[str] = typer.Option(None, "--length-unit", help="tokens | chars"),
    recipe: Optional[Path] = RecipeOpt,
) -> None:
    """Stage 2: keep the shortest correct trajectories under captions with reward > alpha."""
    from sophia_eval.sophia.config import SelectionConfig
    from sophia_eval.sophia.items import load_training_items
    from sophia_eval.sophia.pipeline import run_selection

    r = _recipe(recipe)
    cfg = _stage(r, "selection", SelectionConfig, alpha=alpha, keep=keep, variant=variant, length_unit=length_unit)
    _print_json(run_selection(sampling, load_training_items(_pick(items, r, "items", "training set")), out, cfg))


@sophia_app.command("train")
@_guard
def train(
    selection: Path = typer.Option(..., "--selection", help="Selection directory from `sophia select`"),
    model: Optional[str] = typer.Option(None, "--model", help="Policy checkpoint to update"),
    out: Optional[str] = typer.Option(None, "--out", help="Output directory (checkpoints, final/)"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps"),
    global_batch_size: Optional[int] = typer.Option(None, "--global-batch-size"),
    micro_batch_size: Optional[int] = typer.Option(None, "--micro-batch-size"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from the latest checkpoint"),
    recipe: Optional[Path] = RecipeOpt,
) -> None:
    """Stage 3: reward-weighted NLL update (Accelerate; run under torchrun/accelerate for several GPUs)."""
    from sophia_eval.sophia.config import TrainConfig
    from sophia_eval.sophia.pipeline import train_examples
    from sophia_eval.sophia.trainer import train as run_train

    r = _recipe(recipe)
    recipe_model = r["train"].model if r.get("train") else ""
    cfg = _stage(r, "train", TrainConfig, model=model or recipe_model or r.get("policy"), output_dir=out, max_steps=max_steps,
                 global_batch_size=global_batch_size, micro_batch_size=micro_batch_size, lr=lr, epochs=epochs)
    result = run_train(cfg, train_examples(selection, cfg, r.get("prompts")), resume=resume)
    import os

    if os.environ.get("RANK", "0") != "0":  # under torchrun/accelerate only the main process reports
        return
    _print_json({"final_dir": result.final_dir, "steps": result.steps, "losses": result.losses,
                 "resumed_from": result.resumed_from})


@sophia_app.command("warmup")
@_guard
def warmup(
    data: list[Path] = typer.Option(..., "--data", help="Warm-up JSONL (repeatable): caption/VQA, direct answers, "
                                    "text reasoning; format in sophia_eval.sophia.warmup"),
    model: Optional[str] = typer.Option(None, "--model", help="Base model to warm up (default: recipe policy)"),
    out: str = typer.Option(..., "--out", help="Output directory (checkpoints, final/)"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps"),
    global_batch_size: Optional[int] = typer.Option(None, "--global-batch-size"),
    micro_batch_size: Optional[int] = typer.Option(None, "--micro-batch-size"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    freeze_vision: Optional[bool] = typer.Option(None, "--freeze-vision/--train-vision",
                                                 help="Freeze tower + projector (default: recipe, else frozen)"),
    mixed_precision: Optional[str] = typer.Option(None, "--mixed-precision", help="auto | no | bf16 | fp16"),
    save_every: Optional[int] = typer.Option(None, "--save-every"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from the latest checkpoint"),
    recipe: Optional[Path] = RecipeOpt,
) -> None:
    """Warm-up SFT before SOPHIA: plain SFT on the given files, formatted like SOPHIA's own prompts."""
    from sophia_eval.sophia.config import TrainConfig
    from sophia_eval.sophia.warmup import run_warmup

    r = _recipe(recipe)
    recipe_model = r["train"].model if r.get("train") else ""
    cfg = _stage(r, "train", TrainConfig, model=model or recipe_model or r.get("policy"), output_dir=out,
                 max_steps=max_steps, global_batch_size=global_batch_size, micro_batch_size=micro_batch_size, lr=lr,
                 epochs=epochs, freeze_vision=freeze_vision, mixed_precision=mixed_precision, save_every=save_every,
                 seed=seed)
    result = run_warmup(cfg, data, resume=resume, prompts=r.get("prompts"))
    import os

    if os.environ.get("RANK", "0") != "0":
        return
    _print_json({"final_dir": result.final_dir, "steps": result.steps, "losses": result.losses,
                 "resumed_from": result.resumed_from})


@sophia_app.command("round")
@_guard
def round_(
    recipe: Path = typer.Option(..., "--recipe", "-r", help="Recipe YAML with policy, reasoner, items"),
    out: Path = typer.Option(..., "--out", help="Round directory"),
    reasoner_url: Optional[str] = typer.Option(None, "--reasoner-url"),
    reasoner_option: list[str] = typer.Option([], "--reasoner-option", help="key=value (repeatable)"),
    policy_url: Optional[str] = typer.Option(None, "--policy-url", help="openai backend: policy server URL"),
    policy_option: list[str] = typer.Option([], "--policy-option", help="key=value (repeatable)"),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads (in-process models)"),
    eval_benchmark: Optional[str] = typer.Option(None, "--eval", help="Benchmark to evaluate the result on"),
    eval_limit: Optional[int] = typer.Option(None, "--eval-limit"),
    limit: Optional[int] = typer.Option(None, help="Only the first N training items"),
) -> None:
    """sample -> select -> train -> evaluate, in one process (multi-GPU: run the stages separately).

    The policy that writes the captions is the model that is trained (on-policy perception)."""
    from sophia_eval.sophia.config import SamplingConfig, SelectionConfig, TrainConfig
    from sophia_eval.sophia.items import load_training_items
    from sophia_eval.sophia.pipeline import EvalSpec, run_round

    r = _recipe(recipe)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    policy = _pick(None, r, "policy", "policy model")
    data = load_training_items(_pick(None, r, "items", "training set"), limit=limit)
    rsn = _generator("reasoner", r.get("reasoner_backend", "openai"), _pick(None, r, "reasoner", "reasoner model"),
                     reasoner_option, reasoner_url or r.get("reasoner_url"))
    pol = _generator("policy", r.get("policy_backend", "transformers"), policy, policy_option, policy_url)
    ev = dict(r.get("eval") or {})
    if eval_benchmark:
        ev["benchmark"] = eval_benchmark
    if eval_limit:
        ev["limit"] = eval_limit
    result = run_round(data, policy=pol, reasoner=rsn, round_dir=out,
                       sampling=r.get("sampling") or SamplingConfig(), selection=r.get("selection") or SelectionConfig(),
                       train=_stage(r, "train", TrainConfig, model=policy),
                       evaluation=EvalSpec(**ev) if ev.get("benchmark") else None, prompts=r.get("prompts"))
    _print_json(result)


@sophia_app.command("score-policy")
@_guard
def score_policy(
    selection: Path = typer.Option(..., "--selection", help="Selection directory from `sophia select`"),
    model: Optional[str] = typer.Option(None, "--model", help="The policy before the update"),
    recipe: Optional[Path] = RecipeOpt,
) -> None:
    """Optional: store the policy's own log-probs of the selected trajectories (for objective clipped_is)."""
    from sophia_eval.sophia.behaviour import score_behaviour_logprobs
    from sophia_eval.sophia.config import TrainConfig

    r = _recipe(recipe)
    t = r.get("train") or TrainConfig()
    typer.echo(str(score_behaviour_logprobs(selection, _pick(model, r, "policy", "policy model"),
                                            system_prompt=t.system_prompt, trust_remote_code=t.trust_remote_code)))


@sophia_app.command("grpo")
@_guard
def grpo(
    items: Optional[Path] = typer.Option(None, "--items", help="Training set JSONL"),
    model: Optional[str] = typer.Option(None, "--model", help="Policy to continue from (e.g. the SOPHIA final/)"),
    out: str = typer.Option(..., "--out", help="Output directory (final/ in HF format)"),
    rates: Optional[Path] = typer.Option(None, "--rates", help="Records with item_id + reward/correct (harness "
                                         "samples.jsonl of the policy on the items) for the pass-rate filter"),
    steps: int = typer.Option(..., "--steps", help="GRPO steps"),
    rollout_backend: Optional[str] = typer.Option(None, "--rollout-backend",
                                                  help="vllm | transformers: rollouts from that backend, reloaded on "
                                                       "each step's weights (default: HF generate in the trainer)"),
    rollout_option: list[str] = typer.Option([], "--rollout-option", help="key=value (repeatable)"),
    recipe: Optional[Path] = RecipeOpt,
) -> None:
    """Optional stage 4: on-policy GRPO with the verifier reward on questions of middling pass rate."""
    from sophia_eval.sophia.config import GRPOConfig, TrainConfig
    from sophia_eval.sophia.grpo import filter_by_pass_rate, grpo_train, pass_rates
    from sophia_eval.sophia.items import load_training_items
    from sophia_eval.runs.jsonl import JsonlLog

    r = _recipe(recipe)
    data = load_training_items(_pick(items, r, "items", "training set"))
    g = r.get("grpo") or GRPOConfig()
    if rates is not None:
        data = filter_by_pass_rate(data, pass_rates(JsonlLog(rates).read()), g)
    cfg = _stage(r, "train", TrainConfig, model=_pick(model, r, "policy", "policy model"), output_dir=out)
    gen = None
    if rollout_backend:
        from sophia_eval.cli.run_cmd import parse_options
        from sophia_eval.sophia.grpo import ReloadingGenerator

        gen = ReloadingGenerator(rollout_backend, cfg.model, **parse_options(rollout_option))
    res = grpo_train(cfg, g, data, steps=steps, generator=gen, sync_weights=gen.sync if gen else None)
    _print_json({"final_dir": res.final_dir, "losses": res.losses, "mean_rewards": res.mean_rewards,
                 "kept_groups": res.kept_groups})


def register(app: typer.Typer) -> None:
    app.add_typer(sophia_app, name="sophia")
