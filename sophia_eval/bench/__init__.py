"""Benchmarks: `benchmark.yaml` -> `Sample` -> chat messages (spec, registry, record formats,
normalisers, loading from the data root or the hub, prompt templates). Re-exports only."""

from sophia_eval.bench.formats import DataError
from sophia_eval.bench.loading import load_samples, load_split, resolve_data_dir
from sophia_eval.bench.prompts import SYSTEM_PROMPTS, build_messages, prompt_hash
from sophia_eval.bench.registry import get_benchmark, list_benchmarks
from sophia_eval.bench.spec import BenchmarkSpec, SpecError
from sophia_eval.bench.sample import Sample

__all__ = [
    "BenchmarkSpec", "DataError", "SYSTEM_PROMPTS", "Sample", "SpecError", "build_messages", "get_benchmark",
    "list_benchmarks", "load_samples", "load_split", "prompt_hash", "resolve_data_dir",
]
