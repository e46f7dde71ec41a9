"""Helpers for leaderboard tests: run directories written through RunStore in the harness's format."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from sophia_eval.scoring.metrics import summarize
from sophia_eval.runs.store import RunStore

# Registry-shaped vocabulary for tests that must not depend on which specs have landed:
# benchmark -> ({split: item count}, metric kind).
VOCAB: dict[str, tuple[dict[str, int | None], str]] = {
    "mathvision": ({"test": 3040, "testmini": 304}, "accuracy"),
    "olympiadbench": ({"open_ended": None}, "accuracy"),
    "mathvista": ({"testmini": 1000}, "accuracy"),
    "mathverse": ({"testmini_vision_only": 788}, "accuracy"),
    "dynamath": ({"test": 5010}, "dynamath"),
    "wemath": ({"testmini": None}, "wemath"),
    "logicvista": ({"test": 448}, "accuracy"),
    "mmmu": ({"validation": 900}, "accuracy"),
    "mmmu_pro": ({"vision": 1730, "standard": 1730}, "accuracy"),
    "mv_math": ({"test": 2009}, "accuracy"),
    "math500": ({"test": 500}, "accuracy"),
}

SOPHIA_GENERATION = {"n": 1, "temperature": 1.0, "top_p": 0.8, "max_new_tokens": 16384, "seed": 0}


def write_run(
    path: Path,
    *,
    model: str,
    benchmark: str = "mathvision",
    split: str = "test",
    outcomes: Mapping[str, Sequence[bool | None]],
    preset: str = "sophia",
    generation: Mapping[str, Any] | None = None,
    categories: Mapping[str, Mapping[str, str]] | None = None,
    judge: Any = None,
    limit: int | None = None,
    metric: str = "accuracy",
    complete: bool = True,
    verifier_version: str = "1",
) -> Path:
    """A run dir with one record per (item, sample); None outcome = backend error (not scored)."""
    gen = dict(generation or SOPHIA_GENERATION)
    config = {
        "benchmark": {"name": benchmark, "split": split, "version": "1", "data_hash": "abc"},
        "model": {"name": model, "slug": model, "options": {}},
        "backend": "transformers",
        "generation": gen,
        "protocol": {"name": preset, **{k: gen[k] for k in ("n", "temperature", "top_p", "max_new_tokens", "seed")},
                     "system_prompt": None, "use_hint": True, "prompt_template": None},
        "prompt_template": "default",
        "system_prompt": None,
        "use_hint": True,
        "judge": judge,
        "limit": limit,
        "item_ids": None,
        "shard": None,
    }
    meta = {"config": config, "created_at": "2026-01-01T00:00:00Z", "verifier_version": verifier_version,
            "benchmark_meta": {"metric": metric, "breakdown": [], "judge": "none"}}
    store = RunStore.create_or_resume(path, meta)
    records = []
    for item_id, outs in outcomes.items():
        for j, ok in enumerate(outs):
            status = "error" if ok is None else ("correct" if ok else "incorrect")
            records.append({
                "item_id": item_id, "sample_index": j, "response": "...", "finish_reason": "stop",
                "extracted": f"ans-{item_id}-{int(bool(ok))}", "status": status,
                "correct": None if ok is None else bool(ok), "gold": f"gold-{item_id}",
                "categories": dict((categories or {}).get(item_id, {})),
            })
    store.append(records)
    if complete:
        fields = sorted({k for c in (categories or {}).values() for k in c})
        store.update_meta(summary=summarize(records, metric=metric, breakdown=fields), status="complete")
    return path


REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("SOPHIA_EVAL_REFERENCE", REPO.parent / "shared" / "reference" / "published_results.csv"))
if not REFERENCE.exists():  # the checkout beside /work/shared, or the shared machine path
    REFERENCE = Path("/work/shared/reference/published_results.csv")


def reference_rows() -> list[dict[str, str]]:
    """The shared reference table of published numbers, one dict per row."""
    with REFERENCE.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
