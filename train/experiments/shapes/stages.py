"""The SOPHIA stages of the shapes experiment, after the models exist (see run.py).

  sample    K captions per training image from the warmed-up policy, N reasoner samples per caption
            (bf16, duplicate captions asked once); and, for the off-policy distillation baseline,
            N reasoner samples per GROUND-TRUTH caption (`sampling_gt/`); the items are split between
            two one-thread processes (`part0/`, `part1/`), whose records are then merged
  select    `sophia-eval sophia select`: sophia (alpha 0.75, shortest correct, Keep-1),
            no_caption_reward, random; off-policy = shortest correct from the ground-truth captions
  update    `sophia-eval sophia train` per variant and training seed, same steps and batch for all
  evaluate  `sophia-eval run` greedy and sampled (the paper's T=1, top-p 0.8) on the 2000 eval items,
            and greedy with images shuffled across questions (a control) for base and SOPHIA seed 0
  controls  two-stage reference (policy caption -> reasoner); the majority answer comes with the data
  report    tables, comparisons and the plot: see report.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from shapes import task

VARIANTS = ("sophia", "no_caption_reward", "random", "offpolicy")

# The scale fields each stage depends on (its cache key), so changing a later stage's settings
# (say, the update's steps) reuses the earlier stages' outputs.
_MODELS = ("n_warmup", "n_train", "n_eval", "reasoner_examples", "reasoner_steps", "reasoner_batch", "reasoner_lr",
           "reasoner_model", "policy_hidden", "policy_layers", "policy_steps", "policy_batch", "policy_lr")
_SAMPLE = (*_MODELS, "num_captions", "num_reasonings", "caption_tokens", "reasoning_tokens")
_SELECT = (*_SAMPLE, "train_seeds")
_UPDATE = (*_SELECT, "update_steps", "update_batch", "update_lr", "update_warmup")
_EVALUATE = (*_UPDATE, "eval_tokens", "eval_limit")
_CONTROLS = (*_EVALUATE, "two_stage_items")
PROTOCOLS = {"greedy": ["--protocol", "greedy"], "sampled": ["--protocol", "sophia"]}
_BATCH = 64
"""Prompts per forward pass everywhere (sampling, evaluation): on this CPU, 64 prompts x 4 samples
decoded the reasoner ~1.5x faster than 16, and the policy evaluated 2000 items ~1.6x faster than 8.
Part of the cache keys of the stages that generate: the batch sets the seeds of sampled calls."""
_SAMPLER = 3
"""Version of the sampler's draws (2: top-p without a full sort; 3: the backend's own decode loop,
items split between LANES processes); part of the cache keys."""
LANES = 2
"""Processes side by side, one torch thread each: the machine has 2 cores, and two one-thread
processes sample ~1.3x faster than one two-thread process (SmolLM2 bf16, 64 prompts x 4 samples:
194 vs 298 samples/min)."""


class GroundTruthCaptions:
    """Stands in for the policy when the captions are the ground truth (already written)."""

    name = "ground_truth"

    def describe(self) -> dict[str, Any]:
        return {"backend": "ground_truth", "model": "ground-truth-captions"}

    def generate(self, conversations, config):  # pragma: no cover - never called: captions exist
        raise RuntimeError("ground-truth captions are written before sampling; nothing to generate")


def _sampling_config(exp, k: int):
    from sophia_eval.sophia.config import SamplingConfig

    s = exp.scale
    return SamplingConfig(num_captions=k, num_reasonings=s.num_reasonings, caption_temperature=1.0, caption_top_p=1.0,
                          caption_max_new_tokens=s.caption_tokens, reasoning_temperature=1.0, reasoning_top_p=0.8,
                          reasoning_max_new_tokens=s.reasoning_tokens, batch_size=_BATCH, seed=0)


def _prompts():
    from shapes.run import PROMPTS
    from sophia_eval.sophia.config import PromptConfig

    return PromptConfig(**PROMPTS)


def stage_sample(exp) -> None:
    t0 = time.time()
    key = exp.key("sample", _SAMPLE, batch=_BATCH, sampler=_SAMPLER, parts=LANES)
    if exp.done("sample", key):
        return
    stats = in_parts(exp, _sample_part)
    order = {r["id"]: i for i, r in enumerate(task.read_truth(exp.data, "train"))}
    for name in ("sampling", "sampling_gt"):
        merge_sampling([exp.work / "sample" / f"part{i}" / name for i in range(LANES)], exp.work / "sample" / name, order)
    exp.mark("sample", key, t0, policy=_sum_stats([a for a, _ in stats]), ground_truth=_sum_stats([b for _, b in stats]))


def _sample_part(exp, part: int, parts: int) -> tuple[dict, dict]:
    """Sampling for every `parts`-th training item from `part` into `sample/part<part>/` (resumable)."""
    from shapes.fast_sampling import make_fast
    from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions
    from sophia_eval.runs.jsonl import JsonlLog
    from sophia_eval.sophia.items import load_training_items
    from sophia_eval.sophia.sampling import run_sampling

    items = load_training_items(exp.data / "train.jsonl")[part::parts]
    out = exp.work / "sample" / f"part{part}"
    policy = TransformersGenerator(str(exp.work / "policy" / "final"), TransformersOptions(batch_size=_BATCH))
    reasoner = make_fast(str(exp.work / "reasoner" / "final"), dtype="bfloat16", batch_size=_BATCH)
    prompts = _prompts()
    stats = run_sampling(items, policy, reasoner, out / "sampling", _sampling_config(exp, exp.scale.num_captions),
                         show_progress=False, prompts=prompts)
    # Off-policy distillation data: the same reasoner on ground-truth captions (K = 1).
    gt_dir = out / "sampling_gt"
    log = JsonlLog(gt_dir / "captions.jsonl")
    if not log.path.exists():
        ids = {x.id for x in items}
        log.append({"item_id": r["id"], "caption_index": 0, "caption": r["caption"], "policy_model": "ground-truth-captions"}
                   for r in task.read_truth(exp.data, "train") if r["id"] in ids)
    gt_stats = run_sampling(items, GroundTruthCaptions(), reasoner, gt_dir, _sampling_config(exp, 1), show_progress=False,
                            prompts=prompts)
    return vars(stats), vars(gt_stats)


def in_parts(exp, fn) -> list:
    """`fn(exp, part, LANES)` for every part, in LANES spawned processes with one torch thread each."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(LANES, mp_context=multiprocessing.get_context("spawn"), initializer=_one_thread) as pool:
        return [f.result() for f in [pool.submit(fn, exp, part, LANES) for part in range(LANES)]]


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def merge_sampling(parts: list[Path], out: Path, order: dict[str, int]) -> None:
    """One sampling folder from its parts: their records in item order, the parts' shared settings."""
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(parts[0] / "sampling.json", out / "sampling.json")
    from shapes.run import write_jsonl

    for name in ("captions.jsonl", "trajectories.jsonl"):
        rows = [json.loads(x) for part in parts for x in (part / name).read_text().splitlines() if x.strip()]
        rows.sort(key=lambda r: (order[r["item_id"]], r["caption_index"], r.get("sample_index", 0)))
        write_jsonl(out / name, rows)


def _sum_stats(parts: list[dict]) -> dict:
    """Sampling statistics of the parts added up (counts and per-status counts summed, lists joined)."""
    from collections import Counter

    total: dict = {}
    for d in parts:
        for k, v in d.items():
            if isinstance(v, dict):
                total[k] = dict(Counter(total.get(k, {})) + Counter(v))
            elif isinstance(v, list):
                total[k] = total.get(k, []) + v
            else:
                total[k] = total.get(k, 0) + v
    return total


def _selections(exp) -> list[tuple[str, int, Path, list[str]]]:
    """(variant, seed, sampling dir, extra select flags) of every selection the updates need."""
    out = []
    for seed in exp.scale.train_seeds:
        out.append(("sophia", seed, exp.work / "sample" / "sampling", ["--variant", "sophia"]))
        out.append(("no_caption_reward", seed, exp.work / "sample" / "sampling", ["--variant", "no_caption_reward"]))
        out.append(("random", seed, exp.work / "sample" / "sampling", ["--variant", "random"]))
        out.append(("offpolicy", seed, exp.work / "sample" / "sampling_gt", ["--variant", "no_caption_reward"]))
    return out


def stage_select(exp) -> None:
    t0 = time.time()
    key = exp.key("select", _SELECT)
    if exp.done("select", key):
        return
    summaries = {}
    for variant, seed, sampling, flags in _selections(exp):
        rec = exp.work / "recipes" / f"select-s{seed}.yaml"
        rec.parent.mkdir(parents=True, exist_ok=True)
        rec.write_text(f"selection: {{seed: {seed}, alpha: 0.75, keep: 1, length_unit: tokens}}\n")
        out = exp.work / "select" / f"{variant}-s{seed}"
        # Exit code 2 = nothing qualified (the summary is still written): that variant is not trained.
        code = exp.cli(["sophia", "select", "-r", str(rec), "--sampling", str(sampling), "--items",
                        str(exp.data / "train.jsonl"), "--out", str(out), *flags], f"select-{variant}-s{seed}").wait()
        if code not in (0, 2) or not (out / "summary.json").exists():
            raise SystemExit(f"selection {variant}-s{seed} failed (exit {code}); see {exp.work / 'logs'}")
        summary = json.loads((out / "summary.json").read_text())
        summaries[f"{variant}-s{seed}"] = {
            **{k: summary[k] for k in ("n_items", "n_items_kept", "n_selected", "n_correct", "n_trajectories",
                                       "n_captions_above_alpha", "selected_length")},
            "n_answer_only": count_answer_only(out / "selected.jsonl")}
    exp.mark("select", key, t0, summaries=summaries)


def count_answer_only(selected: Path) -> int:
    """Selected trajectories with no reasoning besides the boxed answer (fewer than 20 other
    characters): the failure a first attempt saw in 20% of shortest-correct picks."""
    import re

    if not selected.exists():
        return 0
    rows = [json.loads(x) for x in selected.read_text().splitlines() if x.strip()]
    return sum(1 for r in rows if len(re.sub(r"\\boxed\{[^}]*\}", "", r["reasoning"]).strip(" .\n")) < 20)


def stage_update(exp) -> None:
    s = exp.scale
    t0 = time.time()
    key = exp.key("update", _UPDATE)
    if exp.done("update", key):
        return
    jobs = []
    for variant, seed, _, _ in trainable(exp):
        rec = exp.recipe(f"update-s{seed}", {"seed": seed, "gradient_checkpointing": False, "mixed_precision": "no",
                                             "max_length": 512, "freeze_vision": True, "system_prompt": "auto",
                                             "save_every": 50, "warmup_steps": s.update_warmup})
        args = ["sophia", "train", "-r", str(rec), "--selection", str(exp.work / "select" / f"{variant}-s{seed}"),
                "--model", str(exp.work / "policy" / "final"), "--out", str(exp.work / "update" / f"{variant}-s{seed}"),
                "--max-steps", str(s.update_steps), "--global-batch-size", str(s.update_batch),
                "--micro-batch-size", str(s.update_batch), "--lr", str(s.update_lr), "--epochs", "1000"]
        jobs.append((args, f"update-{variant}-s{seed}"))
    _parallel(exp, jobs)
    exp.mark("update", key, t0)


def _parallel(exp, jobs: list[tuple[list[str], str]], width: int = LANES) -> None:
    """Run CLI jobs `width` at a time, one torch thread each (the machine has 2 cores); a job starts
    as soon as any running one ends (a long job beside short ones leaves no core idle)."""
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < width:
            args, name = pending.pop(0)
            running.append(exp.cli(args, name, threads=1))
        finished = [p for p in running if p.poll() is not None]
        if not finished:
            time.sleep(0.5)
            continue
        for p in finished:
            running.remove(p)
            try:
                exp.wait(p)
            except SystemExit:
                exp.wait(*running)  # let the others end (their outputs resume) before failing
                raise


def trainable(exp) -> list[tuple[str, int, Path, list[str]]]:
    """The selections that kept at least one trajectory (an empty one has nothing to train on)."""
    return [sel for sel in _selections(exp)
            if json.loads((exp.work / "select" / f"{sel[0]}-s{sel[1]}" / "summary.json").read_text())["n_selected"] > 0]


def models_to_evaluate(exp) -> dict[str, Path]:
    out = {"base": exp.work / "policy" / "final"}
    for variant, seed, _, _ in trainable(exp):
        out[f"{variant}-s{seed}"] = exp.work / "update" / f"{variant}-s{seed}" / "final"
    return out


def _eval_job(exp, name: str, model: Path, protocol: str, split: str = "eval") -> tuple[list[str], str] | None:
    out = exp.work / "evaluate" / split / protocol / name
    if (out / "run.json").exists() and json.loads((out / "run.json").read_text()).get("summary"):
        return None
    return (["run", "--model", str(model), "--benchmark", f"shapes:{split}", "--data-dir", str(exp.work / "data"),
             *PROTOCOLS[protocol], "--max-new-tokens", str(exp.scale.eval_tokens), "--out", str(out),
             "--batch-size", str(_BATCH), "-o", f"batch_size={_BATCH}", "--threads", "1", "--no-progress",
             *(["--limit", str(exp.scale.eval_limit)] if exp.scale.eval_limit else [])], f"eval-{split}-{protocol}-{name}")


def stage_evaluate(exp) -> None:
    """Every model greedy and sampled, and the shuffled-images control, in one pool of lanes; the
    trained models first and the base (short answers, a minute a run) last, to fill the lanes' tails."""
    t0 = time.time()
    key = exp.key("evaluate", _EVALUATE, batch=_BATCH, shuffled=True)
    if exp.done("evaluate", key):
        return
    models = models_to_evaluate(exp)
    runs = [(name, model, protocol, "eval") for name, model in models.items() for protocol in PROTOCOLS]
    runs += [(name, model, "greedy", "eval_shuffled") for name, model in shuffled_models(exp).items()]
    runs.sort(key=lambda r: r[0] == "base")
    _parallel(exp, [j for name, model, protocol, split in runs if (j := _eval_job(exp, name, model, protocol, split))])
    exp.mark("evaluate", key, t0)


def shuffled_models(exp) -> dict[str, Path]:
    """The models the shuffled-images control runs: base and SOPHIA's first seed (when trained)."""
    want = ("base", f"sophia-s{exp.scale.train_seeds[0]}")
    return {k: v for k, v in models_to_evaluate(exp).items() if k in want}


def stage_controls(exp) -> None:
    """The two-stage reference (the shuffled-images runs are in the evaluate stage's pool)."""
    t0 = time.time()
    key = exp.key("controls", _CONTROLS, batch=_BATCH, sampler=_SAMPLER, parts=LANES)
    if exp.done("controls", key):
        return
    two_stage = two_stage_reference(exp)
    exp.mark("controls", key, t0, two_stage=two_stage)


def two_stage_reference(exp) -> dict[str, Any]:
    """Policy caption (greedy) -> reasoner (greedy) on the first eval items, scored by the verifier."""
    from shapes.run import write_jsonl

    out = exp.work / "controls" / "two_stage.jsonl"
    if out.exists():
        rows = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    else:
        parts = in_parts(exp, _two_stage_part)  # part i holds items i, i + LANES, ...: interleave back
        rows = [parts[i % LANES][i // LANES] for i in range(sum(map(len, parts)))]
        out.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(out, rows)
    from sophia_eval.scoring.intervals import wilson_interval

    right = sum(1 for r in rows if r["reward"] == 1.0)
    return {"n": len(rows), "accuracy": 100 * right / len(rows),
            "ci": [100 * x for x in wilson_interval(right, len(rows))],
            "exact_captions": 100 * sum(r["exact_caption"] for r in rows) / len(rows)}


def _two_stage_part(exp, part: int, parts: int) -> list[dict]:
    from shapes.fast_sampling import make_fast
    from sophia_eval.backends.base import GenerationConfig
    from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions
    from sophia_eval.bench import load_samples
    from sophia_eval.sophia.prompts import caption_messages, reasoning_messages
    from sophia_eval.sophia.rewards import score_texts

    s = exp.scale
    samples = load_samples("shapes:eval", data_dir=exp.work / "data", limit=s.two_stage_items)[part::parts]
    policy = TransformersGenerator(str(exp.work / "policy" / "final"), TransformersOptions(batch_size=_BATCH))
    greedy = GenerationConfig(n=1, temperature=0.0, max_new_tokens=s.caption_tokens, seed=0)
    prompts = _prompts()
    captions = [c[0].text for c in policy.generate([caption_messages(x, prompts) for x in samples], greedy)]
    del policy
    reasoner = make_fast(str(exp.work / "reasoner" / "final"), dtype="bfloat16", batch_size=_BATCH)
    greedy_r = GenerationConfig(n=1, temperature=0.0, max_new_tokens=s.reasoning_tokens, seed=0)
    texts = [c[0].text for c in reasoner.generate([reasoning_messages(x, c, prompts) for x, c in zip(samples, captions)], greedy_r)]
    scores = score_texts(samples, texts)
    truth = {r["id"]: r for r in task.read_truth(exp.data, "eval")}
    return [{"id": x.id, "qtype": x.categories.get("qtype"), "caption": c, "exact_caption": c.strip() == truth[x.id]["caption"],
             "reasoning": t, "reward": sc.get("reward")} for x, c, t, sc in zip(samples, captions, texts, scores)]
