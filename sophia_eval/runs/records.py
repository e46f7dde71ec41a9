"""The per-sample record of `samples.jsonl`: its fields, and how a stored record becomes a verifier
request (the harness, re-scoring and the judge all go through `verify_request`).

`run.json` is read into `runs.reading.RunInfo`; it is written by `runs.store.RunStore`.
"""

from __future__ import annotations

from typing import Any, Mapping, TypedDict


class SampleRecord(TypedDict, total=False):
    """One line of `samples.jsonl`: one (item, sample) with its generation and its verdict.

    Written by the harness (`base_record` + `score_records`), by importers and by shard merges;
    read by re-scoring, metrics, comparisons and the SOPHIA pipeline. Older runs may lack the
    optional fields; readers use `.get`.
    """

    item_id: str
    sample_index: int
    prompt_hash: str
    response: str
    finish_reason: str
    """`stop`, `length` or `error` (a backend failure: never verified, never scored)."""
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float | None
    error: str | None
    gold: Any
    verify_kwargs: dict[str, Any]
    """Keyword arguments of `verify(...)` besides gold and pred (answer_type, options, policy, ...)."""
    categories: dict[str, str]
    extracted: str | None
    status: str
    """A verdict status (`verify.vocab.STATUSES`) or `judge_error`."""
    correct: bool | None
    """None when the status is not scored."""
    method: str
    reason: str
    verifier_version: str | None
    verify_elapsed_s: float


def verify_request(record: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `verify(...)` from a stored sample record (JSON lists become tuples)."""
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (record.get("verify_kwargs") or {}).items()}
    return {"gold": str(record["gold"]), "pred": record.get("response") or "", **kwargs}
