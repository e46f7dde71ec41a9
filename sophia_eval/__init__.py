"""sophia-eval: evaluation-first toolkit for vision-language math reasoning, with SOPHIA training.

This module only re-exports the public API; if a name is not in `__all__`, it is internal. Names
load on first use (PEP 562), so `import sophia_eval.verify` or `from sophia_eval import
OutcomeReward` load the verifier alone, not the harness, leaderboards or numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Completion": "sophia_eval.backends.base",
    "GenerationConfig": "sophia_eval.backends.base",
    "Generator": "sophia_eval.backends.base",
    "BackendError": "sophia_eval.backends.base",
    "make_generator": "sophia_eval.backends",
    "RunStore": "sophia_eval.runs.store",
    "RunStoreError": "sophia_eval.runs.store",
    "Sample": "sophia_eval.bench.sample",
    "OutcomeReward": "sophia_eval.reward",
    "Verdict": "sophia_eval.verify",
    "VerifierPool": "sophia_eval.verify",
    "check_gold": "sophia_eval.verify",
    "extract_answer": "sophia_eval.verify",
    "verify": "sophia_eval.verify",
    "verify_many": "sophia_eval.verify",
    "Baseline": "sophia_eval.board.baselines",
    "BaselineError": "sophia_eval.board.baselines",
    "Leaderboard": "sophia_eval.board.leaderboard",
    "ProtocolMismatch": "sophia_eval.board.compare",
    "build_leaderboard": "sophia_eval.board.leaderboard",
    "compare_paths": "sophia_eval.board.compare",
    "compare_runs": "sophia_eval.board.compare",
    "load_baselines": "sophia_eval.board.baselines",
    "mcnemar_exact": "sophia_eval.scoring.paired",
    "paired_bootstrap": "sophia_eval.scoring.paired",
    "BenchmarkSpec": "sophia_eval.bench.spec",
    "DataError": "sophia_eval.bench.formats",
    "SpecError": "sophia_eval.bench.spec",
    "SYSTEM_PROMPTS": "sophia_eval.bench.prompts",
    "build_messages": "sophia_eval.bench.prompts",
    "get_benchmark": "sophia_eval.bench.registry",
    "list_benchmarks": "sophia_eval.bench.registry",
    "load_samples": "sophia_eval.bench.loading",
    "prompt_hash": "sophia_eval.bench.prompts",
    "resolve_data_dir": "sophia_eval.bench.loading",
    "PRESETS": "sophia_eval.harness.protocols",
    "Protocol": "sophia_eval.harness.protocols",
    "get_protocol": "sophia_eval.harness.protocols",
    "pass_at_k": "sophia_eval.scoring.metrics",
    "summarize": "sophia_eval.scoring.metrics",
    "HarnessError": "sophia_eval.harness.runner",
    "RunConfig": "sophia_eval.harness.runner",
    "rescore": "sophia_eval.harness.runner",
    "run": "sophia_eval.harness.runner",
    "merge": "sophia_eval.harness.shards",
    "Judge": "sophia_eval.harness.judge",
    "JudgeConfig": "sophia_eval.harness.judge",
    "ImportFormatError": "sophia_eval.harness.importers",
    "import_jsonl": "sophia_eval.harness.importers",
    "import_lmms": "sophia_eval.harness.importers",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from sophia_eval._version import package_version

        value = package_version()
    elif name in _EXPORTS:
        try:
            module = importlib.import_module(_EXPORTS[name])
        except ModuleNotFoundError as exc:
            from sophia_eval._extras import missing_extra

            err = missing_extra(exc, f"sophia_eval.{name}")
            if err is exc:
                raise
            raise err from exc
        value = getattr(module, name)
    else:
        raise AttributeError(f"module 'sophia_eval' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
