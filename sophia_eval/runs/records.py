"""The per-sample record of `samples.jsonl`: its fields, and how a stored record becomes a verifier
request (the harness, re-scoring and the judge all go through `verify_request`)."""

from __future__ import annotations

from typing import Any, Mapping


def verify_request(record: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `verify(...)` from a stored sample record (JSON lists become tuples)."""
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (record.get("verify_kwargs") or {}).items()}
    return {"gold": str(record["gold"]), "pred": record.get("response") or "", **kwargs}
