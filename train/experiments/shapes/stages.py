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
  report    `sophia-eval compare` against the base run and SOPHIA against each variant with the same
            seed, `sophia-eval leaderboard` over all runs, tables (markdown/JSON) with the machine
            they ran on, and an SVG plot
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


def _accuracy(run_dir: Path) -> float | None:
    """Accuracy (percent) of a harness run directory, recomputed from its samples."""
    f = run_dir / "samples.jsonl"
    if not f.exists():
        return None
    rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    scores = [float(r.get("correct") or 0) for r in rows]  # harness sample records: `correct` per sample
    return 100 * sum(scores) / len(scores) if scores else None


def stage_report(exp) -> None:
    """`sophia-eval compare` base vs every model, per protocol; a table, a JSON and an SVG plot."""
    t0 = time.time()
    report = exp.work / "report"
    report.mkdir(parents=True, exist_ok=True)
    names = list(models_to_evaluate(exp))
    table: dict[str, dict[str, Any]] = {n: {} for n in names}
    for protocol in PROTOCOLS:
        root = exp.work / "evaluate" / "eval" / protocol
        out_json = report / f"compare-{protocol}.json"
        exp.wait(exp.cli(["compare", str(root / "base"), *(str(root / n) for n in names[1:]), "--json", str(out_json),
                          "--markdown", str(report / f"compare-{protocol}.md"), "--flips", "0"], f"compare-{protocol}"))
        comps = json.loads(out_json.read_text())
        comps = comps if isinstance(comps, list) else [comps]
        for c in comps:
            for b in c["benchmarks"]:
                name = Path(b["run_b"]).name
                table[name][protocol] = {k: b[k] for k in ("b", "delta", "ci_low", "ci_high", "p_value", "n_items")}
                table["base"][protocol] = {"b": b["a"], "n_items": b["n_items"]}
                table[name][f"{protocol}_qtype"] = {cd["value"]: cd["b"] for cd in b["categories"] if cd["field"] == "qtype"}
                table["base"][f"{protocol}_qtype"] = {cd["value"]: cd["a"] for cd in b["categories"] if cd["field"] == "qtype"}
    against_sophia = _compare_sophia_with_variants(exp, report, set(names))
    exp.wait(exp.cli(["leaderboard", str(exp.work / "evaluate" / "eval"), "--out", str(report / "leaderboard")],
                     "leaderboard"))
    data_info = json.loads((exp.work / "data" / "done.json").read_text())
    controls = json.loads((exp.work / "controls" / "done.json").read_text()) if (exp.work / "controls" / "done.json").exists() else {}
    shuffled = {n: _accuracy(exp.work / "evaluate" / "eval_shuffled" / "greedy" / n)
                for n in shuffled_models(exp)}
    selection = json.loads((exp.work / "select" / "done.json").read_text()).get("summaries", {})
    result = {"table": table, "sophia_vs": against_sophia, "majority": data_info.get("majority"),
              "shuffled_images_greedy": shuffled, "two_stage": controls.get("two_stage"), "selection": selection,
              "times_s": exp.times, "machine": machine(),
              "scale": vars(exp.scale) if hasattr(exp.scale, "__dict__") else None}
    (report / "results.json").write_text(json.dumps(result, indent=2, default=str))
    (report / "results.md").write_text(results_markdown(result, exp.scale.train_seeds))
    refs = {"majority answer": 100 * (data_info.get("majority") or {}).get("overall", 0)}
    if controls.get("two_stage"):
        refs["two-stage (policy caption -> reasoner)"] = controls["two_stage"]["accuracy"]
    (report / "plot.svg").write_text(plot_svg(table, exp.scale.train_seeds, refs))
    exp.mark("report", exp.key("report", t=time.time()), t0)


def _compare_sophia_with_variants(exp, report: Path, evaluated: set[str]) -> dict[str, dict[str, dict]]:
    """SOPHIA against every other variant trained with the same seed, paired (`sophia-eval compare`
    with SOPHIA as the reference): {variant: {"greedy-s0": {delta, ci_low, ci_high, p_value}, ...}}."""
    out: dict[str, dict[str, dict]] = {}
    for protocol in PROTOCOLS:
        root = exp.work / "evaluate" / "eval" / protocol
        for seed in exp.scale.train_seeds:
            others = [f"{v}-s{seed}" for v in VARIANTS[1:] if f"{v}-s{seed}" in evaluated]
            if f"sophia-s{seed}" not in evaluated or not others:
                continue
            out_json = report / f"compare-sophia-{protocol}-s{seed}.json"
            exp.wait(exp.cli(["compare", str(root / f"sophia-s{seed}"), *(str(root / n) for n in others),
                              "--json", str(out_json), "--flips", "0"], f"compare-sophia-{protocol}-s{seed}"))
            comps = json.loads(out_json.read_text())
            for c in comps if isinstance(comps, list) else [comps]:
                for b in c["benchmarks"]:
                    variant = Path(b["run_b"]).name.rsplit("-s", 1)[0]
                    out.setdefault(variant, {})[f"{protocol}-s{seed}"] = sophia_minus(b)
    return out


def sophia_minus(b: dict[str, Any]) -> dict[str, Any]:
    """A compare result with SOPHIA as run A turned into SOPHIA minus the other (B): the paired
    bootstrap's percentile interval of A - B is the negated interval of B - A."""
    flip = lambda x: None if x is None else -x  # noqa: E731
    return {"delta": flip(b["delta"]), "ci_low": flip(b["ci_high"]), "ci_high": flip(b["ci_low"]),
            "p_value": b["p_value"], "n_items": b["n_items"]}


def machine() -> dict[str, Any]:
    """What the numbers depend on beyond the seeds: the same command gave other weights (and numbers)
    on another CPU, likely because matrix kernels (AVX2, AVX-512, AVX-512 BF16, AMX) round and sum
    differently. Read without importing torch (the driver stays small)."""
    from importlib import metadata
    info: dict[str, Any] = {}
    try:
        info["torch"] = metadata.version("torch")
    except metadata.PackageNotFoundError:
        info["torch"] = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    fields = dict(line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    info["cpu"] = fields.get("model name")
    info["cpu_flags"] = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    info["cores"] = cpuinfo.count("processor\t:")
    return info


def _variant_mean(table: dict, variant: str, seeds, protocol: str) -> tuple[float | None, list[float]]:
    vals = [table.get(f"{variant}-s{s}", {}).get(protocol, {}).get("b") for s in seeds]
    vals = [v for v in vals if v is not None]
    return (sum(vals) / len(vals) if vals else None), vals


def _fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def results_markdown(result: dict, seeds) -> str:
    t = result["table"]
    lines = ["| model | greedy pass@1 (%) | delta vs base [95% CI] | sampled pass@1 (%) | delta vs base [95% CI] |",
             "|---|---|---|---|---|"]
    for name, row in t.items():
        cells = [name]
        for protocol in PROTOCOLS:
            r = row.get(protocol, {})
            cells.append(_fmt(r.get("b")))
            cells.append("" if name == "base" else
                         f"{_fmt(r.get('delta'))} [{_fmt(r.get('ci_low'))}, {_fmt(r.get('ci_high'))}]")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| variant (mean over seeds) | greedy | sampled |", "|---|---|---|"]
    for v in ("base", *VARIANTS):
        if v == "base":
            g, s = t["base"].get("greedy", {}).get("b"), t["base"].get("sampled", {}).get("b")
        else:
            g, s = _variant_mean(t, v, seeds, "greedy")[0], _variant_mean(t, v, seeds, "sampled")[0]
        lines.append(f"| {v} | {_fmt(g)} | {_fmt(s)} |")
    maj = result.get("majority") or {}
    lines += ["", f"Controls: majority answer {_fmt(100 * maj.get('overall', 0))}%; shuffled images (greedy) "
              + ", ".join(f"{k} {_fmt(v)}%" for k, v in result["shuffled_images_greedy"].items())
              + (f"; two-stage (policy caption -> reasoner, greedy, first {result['two_stage']['n']} items) "
                 f"{_fmt(result['two_stage']['accuracy'])}% [{_fmt(result['two_stage']['ci'][0])}, "
                 f"{_fmt(result['two_stage']['ci'][1])}] with {_fmt(result['two_stage']['exact_captions'])}% exact "
                 "captions" if result.get("two_stage") else "")]
    vs = result.get("sophia_vs") or {}
    if vs:
        cols = [f"{p}-s{s}" for p in PROTOCOLS for s in seeds]
        lines += ["", "SOPHIA minus each variant trained with the same seed (paired, 95% CI, p):", "",
                  "| SOPHIA vs | " + " | ".join(c.replace("-s", ", seed ") for c in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for variant, by_col in vs.items():
            cells = [by_col.get(c) for c in cols]
            lines.append(f"| {variant} | " + " | ".join(
                "-" if r is None else f"{r['delta']:+.1f} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] {_p(r['p_value'])}"
                for r in cells) + " |")
    qt = [k for k in t["base"].get("greedy_qtype", {})]
    if qt:
        lines += ["", "Greedy pass@1 by question type (%):", "", "| model | " + " | ".join(qt) + " |",
                  "|---|" + "---|" * len(qt)]
        for name, row in t.items():
            q = row.get("greedy_qtype", {})
            lines.append(f"| {name} | " + " | ".join(_fmt(q.get(k)) for k in qt) + " |")
    m = result.get("machine") or {}
    if m:
        lines += ["", f"Machine: {m.get('cpu')}, {m.get('cores')} cores, flags {' '.join(m.get('cpu_flags', []))}; "
                  f"torch {m.get('torch')}"]
    return "\n".join(lines) + "\n"


def _p(p: float | None) -> str:
    return "" if p is None else ("p<0.001" if p < 0.001 else f"p={p:.2g}")


def plot_svg(table: dict, seeds, refs: dict[str, float] | None = None) -> str:
    """Grouped bars (greedy, sampled) per variant, seed values as dots, `refs` (controls) as dashed
    lines; plain SVG, no plotting library."""
    groups = ["base", *VARIANTS]
    colors = {"greedy": "#4477aa", "sampled": "#ee7733"}
    w, h, left, bottom, top = 560, 260, 40, 40, 20
    bw = (w - left - 20) / len(groups)
    refs = refs or {}
    ymax = max([v for n in table.values() for p in PROTOCOLS for v in [n.get(p, {}).get("b")] if v is not None]
               + list(refs.values()) + [10])
    ymax = min(100.0, (int(ymax / 10) + 1) * 10)
    y = lambda v: top + (h - top - bottom) * (1 - v / ymax)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="10">']
    for tick in range(0, int(ymax) + 1, 10):
        out.append(f'<line x1="{left}" x2="{w - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" text-anchor="end">{tick}</text>')
    for i, g in enumerate(groups):
        x0 = left + i * bw
        for j, p in enumerate(PROTOCOLS):
            if g == "base":
                mean, vals = table["base"].get(p, {}).get("b"), []
            else:
                mean, vals = _variant_mean(table, g, seeds, p)
            if mean is None:
                continue
            bx = x0 + 8 + j * (bw - 16) / 2
            out.append(f'<rect x="{bx:.1f}" y="{y(mean):.1f}" width="{(bw - 16) / 2 - 2:.1f}" '
                       f'height="{y(0) - y(mean):.1f}" fill="{colors[p]}"/>')
            for v in vals:
                out.append(f'<circle cx="{bx + (bw - 16) / 4 - 1:.1f}" cy="{y(v):.1f}" r="2.5" fill="black"/>')
        out.append(f'<text x="{x0 + bw / 2:.1f}" y="{h - bottom + 14}" text-anchor="middle">{g}</text>')
    for k, (label, v) in enumerate(refs.items()):
        out.append(f'<line x1="{left}" x2="{w - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#555" '
                   f'stroke-dasharray="{4 + 3 * k},3"/><text x="{w - 12}" y="{y(v) - 3:.1f}" text-anchor="end" '
                   f'fill="#555">{label} {v:.1f}</text>')
    out.append(f'<text x="{left}" y="12">pass@1 (%) on 2000 shapes eval items; bars: mean over seeds, dots: seeds</text>')
    for j, p in enumerate(PROTOCOLS):
        out.append(f'<rect x="{w - 150 + j * 70}" y="{h - 14}" width="10" height="10" fill="{colors[p]}"/>'
                   f'<text x="{w - 136 + j * 70}" y="{h - 5}">{p}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
