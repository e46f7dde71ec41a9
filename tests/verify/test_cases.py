"""Conformance tables: every row of tests/verify/cases/*.jsonl is one verifier case.

Row: {gold, pred, meta, expected, note, source}; `meta` holds verify() keyword arguments and
`expected` the Verdict status. Optional `repeat_pred: n` repeats `pred` n times (1 MB inputs
without a 1 MB file). Fix a bug by adding its row first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sophia_eval.verify import verify

CASES_DIR = Path(__file__).parent / "cases"


def _rows() -> list:
    params = []
    for path in sorted(CASES_DIR.glob("*.jsonl")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            params.append(pytest.param(row, id=f"{path.stem}:{lineno}:{row['note'][:50]}"))
    return params


@pytest.mark.parametrize("row", _rows())
def test_case(row: dict) -> None:
    pred = row["pred"] * row.get("repeat_pred", 1)
    v = verify(gold=row["gold"], pred=pred, **row["meta"])
    assert v.status == row["expected"], (
        f"{row['note']} ({row['source']}): gold={row['gold']!r} pred={pred[:120]!r} meta={row['meta']} "
        f"-> {v.status} via {v.method}: {v.reason} (extracted {str(v.extracted)[:80]!r})"
    )
