"""Evaluation harness: protocols, `run()` (generate -> verify -> records -> summary), re-scoring,
shard merging, importing other tools' outputs, the LLM judge. Re-exports only."""

from sophia_eval.harness.importers import ImportFormatError, import_jsonl, import_lmms
from sophia_eval.harness.judge import Judge, JudgeConfig
from sophia_eval.harness.protocols import PRESETS, Protocol, get_protocol
from sophia_eval.harness.runner import HarnessError, RunConfig, rescore, run
from sophia_eval.harness.shards import merge

__all__ = [
    "HarnessError", "ImportFormatError", "Judge", "JudgeConfig", "PRESETS", "Protocol", "RunConfig",
    "get_protocol", "import_jsonl", "import_lmms", "merge", "rescore", "run",
]
