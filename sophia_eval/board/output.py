"""Markdown and CSV renderings of a `Leaderboard`, and `write_outputs` for all three files
(the HTML page is `board.html`, the console tables `cli.leaderboard_cmd`)."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from sophia_eval.board.html import to_html
from sophia_eval.board.labels import chart_deltas, column_label, portable_path, protocol_title
from sophia_eval.board.leaderboard import BaseChart, Entry, Leaderboard, Overview, Row, Table

CSV_COLUMNS = (
    "protocol", "benchmark", "split", "metric", "rank", "model", "kind", "value", "value_text",
    "ci_low", "ci_high", "ci_method", "n_items", "flags", "entry_protocol", "reported_by",
    "self_reported", "source_url", "source_date", "reported_as", "source",
)


def _ci(e: Entry) -> str:
    if e.ci_low is None or e.ci_high is None:
        return ""
    return f"{e.ci_low:.1f}-{e.ci_high:.1f}" + ("~" if e.kind == "baseline" else "")


def _cell(text: str) -> str:
    """Text for a markdown table cell: HTML escaped (a model named `<script>` stays text), no pipes or newlines."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A CSV cell starting with one of these is a formula to spreadsheet programs."""


def csv_safe(value: object) -> object:
    """Neutralise text that a spreadsheet would run as a formula (prefix `'`); numbers pass."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value



def _model_cell(e: Entry) -> str:
    if e.kind == "run":
        return f"**{_cell(e.model)}** (run `{_cell(e.run.path.name if e.run else portable_path(e.source))}`, {_cell(e.protocol)})"
    return _cell(e.model)


def _source_cell(e: Entry) -> str:
    if e.baseline is not None:
        b = e.baseline
        return f"[{_cell(b.reported_by)}]({b.source_url}), {b.source_date}"
    return f"`{_cell(portable_path(e.source))}`"


def _table_md(t: Table) -> list[str]:
    lines = [f"### {t.benchmark} / {t.split} / {t.metric}", ""]
    lines += ["| # | Model | Value | 95% CI | Flags | Source |", "|---|---|---:|---|---|---|"]
    for r in t.rows:
        e = r.entry
        flags = "; ".join(r.flags)
        lines.append(
            f"| {r.rank} | {_model_cell(e)} | {e.value_text} | {_ci(e)} | {_cell(flags)} | {_source_cell(e)} |"
        )
    for note in t.notes:
        lines += ["", f"_{_cell(note)}_"]
    return lines + [""]


def _overview_md(ov: Overview) -> list[str]:
    head = ["Model", *(column_label(c) for c in ov.columns), "Average", "Benchmarks"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in ov.rows:
        name = f"**{_cell(r.model)}** (run, {_cell(r.preset)})" if r.kind == "run" else _cell(r.model)
        if r.flagged:
            name += " ⚠"
        cells = [r.cells[c].entry.value_text if c in r.cells else "" for c in ov.columns]
        avg = f"{r.average:.2f}" if r.average is not None else ""
        if r.n_columns < len(ov.columns):
            avg += "*"
        lines.append("| " + " | ".join([name, *cells, avg, f"{r.n_columns}/{len(ov.columns)}"]) + " |")
    lines += [
        "",
        "_Average: unweighted mean over the benchmarks a model has (SOPHIA-style); `*` marks an "
        "average over fewer benchmarks than the protocol's, not comparable with full rows. "
        "⚠: a run with flags (protocol differences from the published numbers, or a subset of the items; see the tables below)._",
        "",
    ]
    return lines


def _chart_md(chart: BaseChart) -> list[str]:
    head = [f"Points over {_cell(chart.base)}", *(column_label(c) for c in chart.columns), "Average"]
    lines = [f"#### {_cell(chart.title)}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, deltas, avg in chart_deltas(chart):
        cells = [f"{deltas[c]:+.2f}" if c in deltas else "" for c in chart.columns]
        lines.append("| " + " | ".join([_cell(name), *cells, "" if avg is None else f"{avg:+.2f}"]) + " |")
    return lines + [""]


def to_markdown(board: Leaderboard) -> str:
    n_pub = sum(1 for _, r in board.entries() if r.entry.kind == "baseline")
    lines = [
        "# sophia-eval leaderboard",
        "",
        f"Built from {len(board.runs)} stored run(s) and {n_pub} published number(s). One table per "
        "benchmark, split, metric and protocol; a run is ranked beside published numbers only when "
        "benchmark, split and metric agree, and every other difference is listed in Flags. "
        "Published intervals marked `~` are approximate (Wilson over the split size).",
        "",
    ]
    for path, reason in board.skipped:
        lines.append(f"- left out `{_cell(portable_path(path))}`: {_cell(reason)}")
    if board.skipped:
        lines.append("")
    by_protocol: dict[str, list[Table]] = {}
    for t in board.tables:
        by_protocol.setdefault(t.protocol, []).append(t)
    for ov in board.overviews:
        pid = ov.protocol
        lines += [f"## {protocol_title(board, pid)}", ""]
        if pid in board.protocols:
            p = board.protocols[pid]
            lines += [f"Protocol `{pid}`: {p.description}", ""]
            if p.notes:
                lines += [f"_{p.notes}_", ""]
        lines += ["#### Overview", ""] + _overview_md(ov)
        for chart in (c for c in board.charts if c.protocol == pid):
            lines += _chart_md(chart)
        for t in by_protocol.get(pid, []):
            lines += _table_md(t)
    return "\n".join(lines).rstrip() + "\n"


def _csv_row(t: Table, r: Row) -> dict[str, object]:
    e = r.entry
    b = e.baseline
    return {
        "protocol": t.protocol, "benchmark": e.benchmark, "split": e.split, "metric": e.metric,
        "rank": r.rank, "model": e.model, "kind": e.kind, "value": e.value, "value_text": e.value_text,
        "ci_low": "" if e.ci_low is None else round(e.ci_low, 4),
        "ci_high": "" if e.ci_high is None else round(e.ci_high, 4),
        "ci_method": e.ci_method, "n_items": "" if e.n_items is None else e.n_items,
        "flags": "; ".join(r.flags), "entry_protocol": e.protocol,
        "reported_by": b.reported_by if b else "", "self_reported": b.self_reported if b else "",
        "source_url": b.source_url if b else "", "source_date": b.source_date if b else "",
        "reported_as": b.reported_as if b else "", "source": portable_path(e.source) if e.kind == "run" else e.source,
    }


def to_csv(board: Leaderboard) -> str:
    """Long format: one line per (table, entry); a run appears once per table it joins."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for t, r in board.entries():
        writer.writerow({k: csv_safe(v) for k, v in _csv_row(t, r).items()})
    return buf.getvalue()


def write_outputs(board: Leaderboard, out_dir: str | Path) -> dict[str, Path]:
    """Write `leaderboard.md`, `leaderboard.csv` and `leaderboard.html` into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "leaderboard.md", "csv": out / "leaderboard.csv", "html": out / "leaderboard.html"}
    paths["markdown"].write_text(to_markdown(board), encoding="utf-8")
    paths["csv"].write_text(to_csv(board), encoding="utf-8")
    paths["html"].write_text(to_html(board, link_base=out), encoding="utf-8")
    return paths
