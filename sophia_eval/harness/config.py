"""What a run is before it runs: its benchmark, its config, its identity (what is hashed and
stored in run.json) and its items. `runner.run` executes it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from sophia_eval.bench import registry
from sophia_eval.bench.loading import load_split
from sophia_eval.bench.sample import Sample
from sophia_eval.harness.protocols import Protocol, get_protocol
from sophia_eval.runs.store import config_hash


class HarnessError(RuntimeError):
    """A run cannot start or cannot go on (bad shard spec, backend failing, inconsistent shards)."""


@dataclass(frozen=True)
class BenchmarkInfo:
    """What the harness needs to know about a benchmark (taken from the registry spec)."""

    name: str
    split: str | None = None
    version: str | None = None
    data_hash: str | None = None
    metric: str = "accuracy"
    """`accuracy`, `dynamath` or `wemath` (see `metrics.summarize`)."""
    breakdown: tuple[str, ...] = ()
    extraction: str | None = None
    prompt_template: str | None = None
    judge: str = "none"

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "split": self.split, "version": self.version, "data_hash": self.data_hash}


@dataclass(frozen=True)
class RunConfig:
    """One model on one benchmark under one protocol."""

    benchmark: str
    """Registry reference `name` or `name:split`."""
    model: str
    """Model id or local path (for the openai backend: the served model name)."""
    backend: str = "transformers"
    """`transformers`, `vllm` or `openai`."""
    protocol: Protocol = field(default_factory=lambda: get_protocol("sophia"))
    """Decoding/prompting settings (recorded in full)."""
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for `make_generator` (base_url, dtype, tensor_parallel_size, ...)."""
    limit: int | None = None
    """Evaluate only the first `limit` items (after the loader's order)."""
    item_ids: tuple[str, ...] | None = None
    """Evaluate only these item ids (in this order), e.g. a fixed demo slice."""
    data_dir: str | None = None
    out: str | None = None
    """Run directory; default `runs/<benchmark>__<model-slug>__<config-hash>`."""
    shard: tuple[int, int] | None = None
    """(I, N): evaluate items whose position p has p % N == I; merge the N runs with `merge`."""
    batch_size: int = 8
    """Conversations per generate call (each yields `protocol.n` samples). Fixes the run's chunks
    and seeds, so a resumed run keeps the batch size it started with (see the module docstring)."""
    verify_workers: int | None = None
    """Verifier worker processes (None: the verifier's default)."""
    verify_timeout: float = 2.0
    judge: Any = None
    """A `sophia_eval.harness.judge.JudgeConfig`, or None: no LLM judge (an explicit choice, recorded)."""
    max_consecutive_failures: int = 3
    name: str | None = None
    """Display name on leaderboards and in the default run directory (None: derived from `model`).
    Recorded in run.json but not part of the run's identity: renaming does not break resume."""

    def __post_init__(self) -> None:
        if not self.benchmark:
            raise ValueError("RunConfig.benchmark is empty; pass a registry name such as mathvision")
        if not self.model:
            raise ValueError("RunConfig.model is empty; pass a model id or local path")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 item, got {self.limit}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.shard is not None:
            index, count = self.shard
            if not (count >= 1 and 0 <= index < count):
                raise ValueError(f"shard must be I/N with 0 <= I < N, got {index}/{count}")


def parse_shard(text: str) -> tuple[int, int]:
    """`"I/N"` -> (I, N), with a clear error."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not int(m.group(1)) < int(m.group(2)):
        raise HarnessError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return int(m.group(1)), int(m.group(2))


OPERATIONAL_OPTIONS = frozenset({
    "api_key", "timeout_s", "connect_timeout_s", "concurrency", "max_retries", "backoff_s", "max_backoff_s",
    "check_server",
})
"""Backend options that change how a run is carried out, never what it computes: left out of the
run's identity (a rotated key or a longer timeout resumes the same run)."""
SECRET_WORDS = ("key", "token", "secret", "password")
"""An option whose name contains one of these is never written to run.json."""


def is_secret_option(name: str) -> bool:
    return any(w in name.lower() for w in SECRET_WORDS)


def identity_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The backend options that define a run (recorded in its config and hashed)."""
    return {k: v for k, v in options.items() if k not in OPERATIONAL_OPTIONS and not is_secret_option(k)}


def runtime_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Operational options worth recording for provenance (secrets removed)."""
    return {k: v for k, v in options.items() if k in OPERATIONAL_OPTIONS and not is_secret_option(k)}


def model_slug(model: str) -> str:
    name = model.rstrip("/").split("/")[-1] if "/" in model else model
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def benchmark_info(reference: str) -> BenchmarkInfo:
    """Registry spec for `name` or `name:split` -> BenchmarkInfo (unknown names raise listing known)."""
    name, _, split = reference.partition(":")
    spec = registry.get_benchmark(name)
    return BenchmarkInfo(
        name=spec.name,
        split=split or spec.default_split,
        version=str(getattr(spec, "version", None)) if getattr(spec, "version", None) is not None else None,
        data_hash=getattr(spec, "data_hash", None) if isinstance(getattr(spec, "data_hash", None), str) else None,
        metric=getattr(spec, "metric", "accuracy") or "accuracy",
        breakdown=tuple(getattr(spec, "breakdown", ()) or ()),
        extraction=getattr(spec, "extraction", None),
        prompt_template=getattr(spec, "prompt_template", None),
        judge=getattr(spec, "judge", "none") or "none",
    )


def load_benchmark(bench: BenchmarkInfo, *, data_dir: str | None = None, limit: int | None = None,
                   ) -> tuple[list[Sample], BenchmarkInfo]:
    """Load the items of `bench` from the data root; the returned info carries the data hash."""
    samples, report = load_split(registry.get_benchmark(bench.name), bench.split, data_dir=data_dir, limit=limit)
    return samples, replace(bench, data_hash=bench.data_hash or report.data_hash or None)


def select_items(samples: Sequence[Sample], config: RunConfig) -> list[Sample]:
    """Apply `item_ids`, then `shard`, keeping loader order."""
    chosen = list(samples)
    if config.item_ids is not None:
        by_id = {s.id: s for s in chosen}
        missing = [i for i in config.item_ids if i not in by_id]
        if missing:
            raise HarnessError(f"{config.benchmark}: item ids {missing[:5]} not found in the loaded data")
        chosen = [by_id[i] for i in config.item_ids]
    if config.shard is not None:
        index, count = config.shard
        chosen = [s for pos, s in enumerate(chosen) if pos % count == index]
    return chosen


def run_config_record(config: RunConfig, bench: BenchmarkInfo) -> dict[str, Any]:
    """The `config` block of run.json: everything that defines the run (hashed)."""
    p = config.protocol
    return {
        "benchmark": bench.to_config(),
        "model": {"name": config.model, "slug": model_slug(config.model), "options": identity_options(config.backend_options)},
        "backend": config.backend,
        "generation": {
            "n": p.n, "temperature": p.temperature, "top_p": p.top_p,
            "max_new_tokens": p.max_new_tokens, "seed": p.seed,
        },
        "protocol": p.to_dict(),
        "prompt_template": p.prompt_template or bench.prompt_template,
        "system_prompt": p.system_prompt,
        "use_hint": p.use_hint,
        "judge": config.judge.to_config() if config.judge is not None else None,
        "limit": config.limit,
        "item_ids": list(config.item_ids) if config.item_ids is not None else None,
        "shard": list(config.shard) if config.shard is not None else None,
    }


def default_out(config: RunConfig, bench: BenchmarkInfo, cfg: Mapping[str, Any]) -> Path:
    return Path("runs") / f"{bench.name}__{model_slug(config.name or config.model)}__{config_hash(cfg)}"
