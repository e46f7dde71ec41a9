"""Finding and reading stored runs for leaderboards and comparisons (through `RunStore` only).

A run argument is either a run directory (it holds `run.json`) or a directory of runs, searched
recursively. Reading validates what the leaderboard relies on and names the file when something
is missing: a missing or corrupt directory, a newer schema (`RunStore` refuses it), a config
without benchmark or model, or a complete run without a summary.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any, Mapping, Sequence

from sophia_eval.runs.store import RUN_FILE, RunStore, RunStoreError


class RunReadError(RunStoreError):
    """A run directory cannot be used: the message names the file and what was expected."""


@dataclass(frozen=True)
class RunInfo:
    """What leaderboards and comparisons need from one run's `run.json`."""

    path: Path
    model: str
    """Display name of the model (a local path is shortened to its last component)."""
    benchmark: str
    split: str
    preset: str
    """Protocol preset name (`sophia`, `sophia_model`, `greedy`, ...), `unspecified` if absent."""
    generation: Mapping[str, Any]
    judge_model: str | None
    """LLM judge/extractor model, None when answers were checked by rules only."""
    limit: int | None
    shard: tuple[int, int] | None
    status: str
    summary: Mapping[str, Any]
    created_at: str
    metric_kind: str
    """Benchmark metric kind recorded by the harness (`accuracy`, `dynamath`, `wemath`)."""
    config: Mapping[str, Any] = field(default_factory=dict)
    verifier_version: str | None = None
    model_id: str = ""
    """What tells models apart: the resolved local path when recorded, else the model as given."""
    named: bool = False
    """True when `model` is the user's `--name` (not derived from the path)."""
    merged_from: tuple[str, ...] = ()
    """Shard run directories this run was merged from (`sophia-eval merge`)."""

    def setting(self, key: str) -> Any:
        """A protocol-defining setting: decoding from `generation`, prompt settings from the config."""
        if key in self.generation:
            return self.generation[key]
        return self.config.get(key)

    @property
    def label(self) -> str:
        return f"{self.model} [{self.preset}] {self.path.name}"


def find_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories named by `paths` (each a run or a directory of runs), in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise RunReadError(f"{path}: no such run directory")
        if not path.is_dir():
            raise RunReadError(f"{path}: expected a run directory (holding {RUN_FILE}) or a directory of runs")
        if (path / RUN_FILE).exists():
            candidates = [path]
        else:
            candidates = sorted(p.parent for p in path.rglob(RUN_FILE))
            if not candidates:
                raise RunReadError(f"{path}: no {RUN_FILE} in it or below; is it a sophia-eval run directory?")
        for c in candidates:
            if c not in found:
                found.append(c)
    return found


def _display_model(name: str) -> str:
    if name.startswith(("/", ".", "~")):
        return Path(name.rstrip("/")).name or name
    return name


def _judge_model(judge: Any) -> str | None:
    if not judge or judge == "none":
        return None
    if isinstance(judge, Mapping):
        return str(judge.get("model") or judge.get("name") or "llm")
    return str(judge)


def _shard(value: Any) -> tuple[int, int] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    return None


def read_run(path: str | Path) -> RunInfo:
    """Read one run's `run.json` (schema-checked by `RunStore`) into a `RunInfo`."""
    store = RunStore.open(path)
    meta = store.meta
    where = store.run_file
    config = meta.get("config")
    if not isinstance(config, Mapping):
        raise RunReadError(f"{where}: expected a 'config' object (the fields that define the run)")
    bench = config.get("benchmark")
    if isinstance(bench, str):
        bench = {"name": bench}
    if not isinstance(bench, Mapping) or not bench.get("name"):
        raise RunReadError(f"{where}: config.benchmark must be an object with 'name' (and 'split')")
    model = config.get("model")
    name = model.get("name") if isinstance(model, Mapping) else model
    if not name:
        raise RunReadError(f"{where}: config.model must name the model ({{'name': ...}})")
    protocol = config.get("protocol")
    preset = protocol.get("name") if isinstance(protocol, Mapping) else protocol
    generation = config.get("generation") if isinstance(config.get("generation"), Mapping) else {}
    summary = meta.get("summary")
    status = str(meta.get("status") or ("complete" if summary else "running"))
    if summary is not None and not isinstance(summary, Mapping):
        raise RunReadError(f"{where}: 'summary' must be an object (see docs/CONTRACTS.md)")
    if summary is not None and not isinstance(summary.get("metrics"), Mapping):
        raise RunReadError(f"{where}: summary.metrics must map metric names to {{value, ci_low, ci_high, n_items}}")
    kind = (meta.get("benchmark_meta") or {}).get("metric") or "accuracy"
    given = meta.get("name")
    return RunInfo(
        path=store.path, model=str(given) if given else _display_model(str(name)), benchmark=str(bench["name"]),
        split=str(bench.get("split") or "default"), preset=str(preset or "unspecified"),
        generation=dict(generation), judge_model=_judge_model(config.get("judge")),
        limit=config.get("limit"), shard=_shard(config.get("shard")), status=status,
        summary=dict(summary or {}), created_at=str(meta.get("created_at") or ""),
        metric_kind=str(kind), config=dict(config), verifier_version=meta.get("verifier_version"),
        model_id=str(meta.get("model_path") or name), named=bool(given),
        merged_from=tuple(str(p) for p in meta.get("merged_from") or ()),
    )


STATUS_ADVICE = {
    "running": "not finished (still generating, or its process was killed); `sophia-eval score` does not add "
               "missing samples: rerun the same `sophia-eval run` command to resume",
    "interrupted": "interrupted (Ctrl-C or SIGTERM) before every sample was recorded; `sophia-eval score` does "
                   "not add missing samples: rerun the same `sophia-eval run` command to resume",
    "failed": "every sample is an error, nothing could be scored; fix the cause (the `error` field of "
              "samples.jsonl) and rerun the same command",
}
"""What each unfinished run status means and what to do (score, leaderboard)."""


def status_advice(status: str, meta: Mapping[str, Any] | None = None) -> str:
    """One sentence for a run that did not end `complete` (with its recorded error, if any)."""
    text = STATUS_ADVICE.get(status, f"status {status!r}; rerun the same `sophia-eval run` command")
    error = (meta or {}).get("error")
    return f"{text} (last error: {error})" if error else text


def _path_suffixes(ids: Sequence[str]) -> dict[str, str]:
    """For distinct model ids, the shortest trailing path parts that tell them apart
    (`runs/r1/train/final`, `runs/r2/train/final` -> `r1/train/final`, `r2/train/final`)."""
    parts = {i: PurePath(i).parts or (i,) for i in ids}
    for k in range(1, max(len(p) for p in parts.values()) + 1):
        labels = {i: "/".join(p[-k:]) for i, p in parts.items()}
        if len(set(labels.values())) == len(labels):
            return labels
    return {i: i for i in ids}


def distinct_names(runs: Sequence[RunInfo]) -> list[RunInfo]:
    """Runs whose display names collide but whose models differ get names that tell them apart,
    so a leaderboard never merges two different models into one row."""
    ids_by_name: dict[str, set[str]] = defaultdict(set)
    for r in runs:
        ids_by_name[r.model].add(r.model_id)
    out = []
    for r in runs:
        ids = ids_by_name[r.model]
        if len(ids) > 1:
            label = _path_suffixes(sorted(ids))[r.model_id]
            r = replace(r, model=f"{r.model} ({label})" if r.named else label)
        out.append(r)
    return out


def load_runs(paths: Sequence[str | Path]) -> tuple[list[RunInfo], list[tuple[str, str]]]:
    """Complete runs under `paths`, and (directory, reason) for runs that cannot be ranked yet.

    A run still generating or never scored is skipped with its reason; a corrupt or unreadable
    one raises, because a leaderboard silently missing a run would mislead.
    """
    infos = [read_run(path) for path in find_run_dirs(paths)]
    merged_into = {Path(shard).resolve(): info.path for info in infos for shard in info.merged_from}
    runs, skipped = [], []
    for info in infos:
        if info.path.resolve() in merged_into:
            skipped.append((str(info.path), f"a shard of the merged run {merged_into[info.path.resolve()]}, which is shown instead"))
        elif info.status != "complete":
            skipped.append((str(info.path), f"status {info.status!r}: {status_advice(info.status)}"))
        elif not info.summary:
            skipped.append((str(info.path), "complete but never summarised; re-score it (sophia-eval score)"))
        else:
            runs.append(info)
    return distinct_names(runs), skipped
