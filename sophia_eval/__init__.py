"""sophia-eval: evaluation-first toolkit for vision-language math reasoning, with SOPHIA training.

This module only re-exports the public API; if a name is not in `__all__`, it is internal.
"""

from importlib.metadata import PackageNotFoundError, version as _pkg_version

from sophia_eval.backends import BackendError, make_generator
from sophia_eval.backends.base import Completion, GenerationConfig, Generator
from sophia_eval.bench.sample import Sample
from sophia_eval.runs.store import RunStore, RunStoreError
from sophia_eval.reward import OutcomeReward
from sophia_eval.verify import VerifierPool, Verdict, check_gold, extract_answer, verify, verify_many
from sophia_eval.board.baselines import Baseline, BaselineError, load_baselines
from sophia_eval.board.compare import ProtocolMismatch, compare_paths, compare_runs
from sophia_eval.board.leaderboard import Leaderboard, build_leaderboard
from sophia_eval.scoring.paired import mcnemar_exact, paired_bootstrap
from sophia_eval.bench.registry import get_benchmark, list_benchmarks
from sophia_eval.bench.spec import BenchmarkSpec, SpecError
from sophia_eval.bench.loading import DataError, load_samples, resolve_data_dir
from sophia_eval.bench.prompts import SYSTEM_PROMPTS, build_messages, prompt_hash
from sophia_eval.harness.protocols import PRESETS, Protocol, get_protocol
from sophia_eval.scoring.metrics import pass_at_k, summarize
from sophia_eval.harness.runner import HarnessError, RunConfig, rescore, run
from sophia_eval.harness.shards import merge
from sophia_eval.harness.judge import Judge, JudgeConfig
from sophia_eval.harness.importers import ImportFormatError, import_jsonl, import_lmms

try:
    __version__ = _pkg_version("sophia-eval")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "Completion",
    "GenerationConfig",
    "Generator",
    "BackendError",
    "make_generator",
    "RunStore",
    "RunStoreError",
    "Sample",
    "OutcomeReward",
    "Verdict",
    "VerifierPool",
    "check_gold",
    "extract_answer",
    "verify",
    "verify_many",
    "Baseline",
    "BaselineError",
    "Leaderboard",
    "ProtocolMismatch",
    "build_leaderboard",
    "compare_paths",
    "compare_runs",
    "load_baselines",
    "mcnemar_exact",
    "paired_bootstrap",
    "BenchmarkSpec",
    "DataError",
    "SpecError",
    "SYSTEM_PROMPTS",
    "build_messages",
    "get_benchmark",
    "list_benchmarks",
    "load_samples",
    "prompt_hash",
    "resolve_data_dir",
    "PRESETS",
    "Protocol",
    "get_protocol",
    "pass_at_k",
    "summarize",
    "HarnessError",
    "RunConfig",
    "merge",
    "rescore",
    "run",
    "Judge",
    "JudgeConfig",
    "ImportFormatError",
    "import_jsonl",
    "import_lmms",
]
