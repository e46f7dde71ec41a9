"""Labels and deltas every leaderboard renderer shares (markdown, CSV, HTML, console)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

from sophia_eval.board.leaderboard import RUN_ONLY_PREFIX, BaseChart, Column, Leaderboard, Row


def row_labels(rows: Sequence[Row]) -> list[str]:
    """Display labels for a table's rows; runs sharing a label also name their run directory."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r.entry.display] += 1
    return [
        f"{r.entry.display} {r.entry.run.path.name}" if counts[r.entry.display] > 1 and r.entry.run else r.entry.display
        for r in rows
    ]


def chart_deltas(chart: BaseChart) -> list[tuple[str, dict[Column, float], float | None]]:
    """Per variant: points over the base on each benchmark, and on the average (when complete)."""
    out = []
    base_vals = [chart.values[(chart.base, c)] for c in chart.columns]
    for v in chart.variants:
        deltas = {c: chart.values[(v, c)] - chart.values[(chart.base, c)] for c in chart.columns if (v, c) in chart.values}
        avg = None
        if len(deltas) == len(chart.columns) and chart.columns:
            avg = sum(chart.values[(v, c)] for c in chart.columns) / len(chart.columns) - sum(base_vals) / len(base_vals)
        out.append((v, deltas, avg))
    return out


def protocol_title(board: Leaderboard, pid: str) -> str:
    if pid.startswith(RUN_ONLY_PREFIX):
        return f"Runs with preset '{pid[len(RUN_ONLY_PREFIX):]}' (no published counterpart)"
    return board.protocols[pid].title


def column_label(col: Column) -> str:
    bench, split, metric = col
    return f"{bench} {split}" + ("" if metric == "pass@1" else f" {metric}")


def portable_path(path: str | Path) -> str:
    """A run directory as shown in shared files: relative to the working directory when below it,
    else its last two components; never a local absolute path."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return ".../" + "/".join(p.parts[-2:])
