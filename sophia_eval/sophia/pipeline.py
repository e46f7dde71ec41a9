"""One SOPHIA round, stage by stage: sample -> select -> train -> evaluate.

Each stage reads the previous stage's files and writes its own, so any stage can be rerun alone
(the CLI has one command per stage) and an interrupted round resumes where it stopped:

    <round_dir>/sampling/     captions.jsonl, trajectories.jsonl, sampling.json
    <round_dir>/selection/    selected.jsonl (trajectory + the item it answers), summary.json
    <round_dir>/train/        checkpoint-<step>/ (resumable), final/ (HF format)
    <round_dir>/eval/<bench>/ harness run of final/ (run.json, samples.jsonl)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import PromptConfig, SamplingConfig, SelectionConfig, TrainConfig
from sophia_eval.runs.jsonl import JsonlLog, write_json_atomic
from sophia_eval.runs.store import RunStore
from sophia_eval.sophia.selection import EmptySelectionError, select_trajectories

SELECTED_FILE = "selected.jsonl"
SUMMARY_FILE = "summary.json"


def run_selection(sampling_dir: str | Path, items: Sequence[Sample], out_dir: str | Path,
                  config: SelectionConfig = SelectionConfig()) -> dict[str, Any]:
    """Select from a sampling directory; write `selected.jsonl` + `summary.json`; return the summary.

    Raises `EmptySelectionError` (after writing the summary) when nothing qualifies.
    """
    from sophia_eval.sophia.dataset import sample_to_dict
    from sophia_eval.sophia.sampling import read_trajectories, sampled_num_reasonings

    by_id = {s.id: s for s in items}
    trajectories = [t for t in read_trajectories(sampling_dir) if str(t["item_id"]) in by_id]
    selected, summary = select_trajectories(trajectories, config, num_reasonings=sampled_num_reasonings(sampling_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / SELECTED_FILE
    target.unlink(missing_ok=True)  # selection is a pure function of the records: rewrite it whole
    JsonlLog(target).append({**t, "sample": sample_to_dict(by_id[str(t["item_id"])])} for t in selected)
    summary["sampling_dir"] = str(sampling_dir)
    write_json_atomic(out / SUMMARY_FILE, summary)
    if not selected:
        raise EmptySelectionError(
            f"selection kept nothing from {summary['n_trajectories']} trajectories over {summary['n_items']} items "
            f"({summary['n_correct']} correct, {summary['n_captions_above_alpha']} captions with reward > "
            f"{config.alpha}); lower alpha, sample more, or use a stronger reasoner. Summary: {out / SUMMARY_FILE}")
    return summary


def train_examples(selection_dir: str | Path, config: TrainConfig, prompts: PromptConfig | None = None) -> list[Any]:
    """Selected trajectories plus the configured text-only / VQA mix."""
    from sophia_eval.sophia.dataset import load_selected, mix_examples

    path = Path(selection_dir) / SELECTED_FILE
    sophia = load_selected(path, system_prompt=config.system_prompt) if path.exists() else []
    if not sophia:
        raise EmptySelectionError(f"{path}: no selected trajectories; run the select stage (and check its summary)")
    return mix_examples(sophia, config.mix, seed=config.seed, system_prompt=config.system_prompt, prompts=prompts)


@dataclass(frozen=True)
class EvalSpec:
    """What the evaluate stage runs on the final checkpoint (through the harness)."""

    benchmark: str
    limit: int | None = None
    protocol: str = "sophia_model"
    """The paper evaluates SOPHIA-trained models with the slow-thinking system prompt they were
    trained under (`sophia_model`); `sophia` (no system prompt) is for base models."""
    max_new_tokens: int | None = None
    n: int | None = None
    data_dir: str | None = None
    backend: str = "transformers"
    backend_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Passed to the backend as `sophia-eval run --option` would (e.g. `dtype`, `tensor_parallel_size`)."""


def evaluate(model_dir: str | Path, spec: EvalSpec, out_dir: str | Path, *, samples: Sequence[Sample] | None = None,
             progress: bool = True) -> Path:
    """`sophia-eval run` on the trained checkpoint; returns the run directory."""
    from sophia_eval.harness import runner as harness
    from sophia_eval.harness.protocols import get_protocol

    overrides = {k: v for k, v in (("max_new_tokens", spec.max_new_tokens), ("n", spec.n)) if v is not None}
    config = harness.RunConfig(benchmark=spec.benchmark, model=str(model_dir), backend=spec.backend,
                               backend_options=dict(spec.backend_options),
                               protocol=get_protocol(spec.protocol, **overrides), limit=spec.limit,
                               data_dir=spec.data_dir, out=str(out_dir))
    return harness.run(config, samples=samples, progress=progress)


def run_round(items: Sequence[Sample], *, policy: Any, reasoner: Any, round_dir: str | Path,
              sampling: SamplingConfig, selection: SelectionConfig, train: TrainConfig,
              evaluation: EvalSpec | None = None, progress: bool = True,
              prompts: PromptConfig | None = None) -> dict[str, Any]:
    """The whole round in one process; `policy`/`reasoner` are `Generator`s. Returns paths + summaries."""
    from sophia_eval.sophia.sampling import run_sampling
    from sophia_eval.sophia.trainer import train as run_train

    root = Path(round_dir)
    stats = run_sampling(items, policy, reasoner, root / "sampling", sampling, show_progress=progress, prompts=prompts)
    summary = run_selection(root / "sampling", items, root / "selection", selection)
    train_cfg = dataclasses.replace(train, output_dir=str(root / "train"))
    result = run_train(train_cfg, train_examples(root / "selection", train_cfg, prompts))
    out: dict[str, Any] = {"sampling": dataclasses.asdict(stats), "selection": summary,
                           "final_dir": str(result.final_dir), "train_losses": result.losses}
    if evaluation is not None:
        run_dir = evaluate(result.final_dir, evaluation, root / "eval" / evaluation.benchmark.replace(":", "_"),
                           progress=progress)
        out["eval_run"] = str(run_dir)
        out["eval_summary"] = RunStore.open(run_dir).meta.get("summary")
    write_json_atomic(root / "round.json", out)
    return out
