"""Run records: the only code that knows a run directory (`run.json` + append-only `samples.jsonl`):
writing, resuming and reading them. Re-exports only."""

from sophia_eval.runs.jsonl import JsonlLog, RecordError
from sophia_eval.runs.reading import RunInfo, RunReadError, find_run_dirs, load_runs, read_run
from sophia_eval.runs.records import SampleRecord, verify_request
from sophia_eval.runs.store import RunStore, RunStoreError

__all__ = [
    "JsonlLog", "RecordError", "RunInfo", "RunReadError", "RunStore", "RunStoreError", "SampleRecord", "find_run_dirs",
    "load_runs", "read_run", "verify_request",
]
