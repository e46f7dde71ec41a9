"""A self-contained HTML leaderboard page: inline CSS, inline SVG plots and one small inline
script (click a column header to sort); nothing is loaded from elsewhere.

Per protocol: the overview table (rank, model, average first, so they show without scrolling;
a run's name links to its run directory and its samples), then the user's own checkpoint-vs-base
charts (`--pair`) before the published base-vs-trained charts in the
style of the SOPHIA paper's Figure 1 (grouped bars per benchmark, deltas over the base), and per
benchmark a ranked bar chart with 95% interval whiskers (runs in orange, published numbers in
blue; hatched bars are runs flagged as not like-for-like) above the full table with flags.
"""

from __future__ import annotations

import html
import os
from datetime import datetime, timezone
from pathlib import Path

from sophia_eval.board.leaderboard import BaseChart, Leaderboard, Overview, OverviewRow, Table
from sophia_eval.board.labels import chart_deltas, column_label, portable_path, protocol_title, row_labels

RUN_COLOUR = "#e8743b"
BASELINE_COLOUR = "#5b8db8"
SERIES = ("#9aa5b1", "#e8743b", "#2e9e6a", "#7a5cc2", "#c2457a", "#c9a227")
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1480px;
color:#1f2933;padding:0 16px;line-height:1.45}
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:40px;border-bottom:2px solid #d9e2ec;padding-bottom:4px}
h3{margin:28px 0 6px}table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #d9e2ec;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f4f8}td:first-child{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.run td{background:#fff4ec}.flag{color:#b44d12}.muted{color:#627d98;font-size:13px}
nav a{margin-right:14px}svg{display:block;margin:6px 0;max-width:100%;height:auto}
svg text{font-family:system-ui,sans-serif}details{margin:4px 0 14px}summary{cursor:pointer;color:#334e68}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
.scroll{overflow-x:auto;max-width:100%;margin:8px 0}.scroll table{margin:0}
th.sort{cursor:pointer;user-select:none}th.sort:after{content:" \\2195";color:#9aa5b1;font-size:10px}
table.overview td:nth-child(2),table.overview th:nth-child(2){position:sticky;left:0;background:#fff;z-index:1;min-width:15em}
table.overview tr.run td:nth-child(2){background:#fff4ec}table.overview th:nth-child(2){background:#f0f4f8}
"""

# Sorts the table whose header was clicked: numbers numerically (empty cells last), text otherwise.
_SORT_JS = """
document.querySelectorAll("th.sort").forEach(function(th){th.addEventListener("click",function(){
var table=th.closest("table"),body=table.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th);
var asc=th.dataset.dir!=="asc";th.dataset.dir=asc?"asc":"desc";
function key(tr){var t=(tr.children[i]||{}).textContent||"";var n=parseFloat(t);return isNaN(n)?t.trim().toLowerCase():n;}
var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){var x=key(a),y=key(b);
if(x===""&&y!=="")return 1;if(y===""&&x!=="")return -1;if(typeof x!==typeof y){x=String(x);y=String(y);}
return (x<y?-1:x>y?1:0)*(asc?1:-1);});rows.forEach(function(r){body.appendChild(r);});});});
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(*parts: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else "_" for ch in p) for p in parts)


def _fit(label: str, limit: int) -> str:
    """Shorten in the middle, keeping the end (a run's preset and directory tell runs apart)."""
    if len(label) <= limit:
        return label
    tail = min(20, limit // 2)
    return label[: max(limit - 1 - tail, 1)] + "…" + label[-tail:]


def bar_chart_svg(table: Table, width: int = 900) -> str:
    """Horizontal bars ranked by value, with 95% interval whiskers where known."""
    rows = table.rows
    label_w, value_w, top, row_h = 340, 70, 26, 18
    plot_w = width - label_w - value_w
    top_value = max([100.0] + [r.entry.ci_high or r.entry.value for r in rows])
    scale = plot_w / top_value
    height = top + row_h * len(rows) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(table.benchmark)} {_e(table.split)} {_e(table.metric)}">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f6c3a5"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{RUN_COLOUR}" stroke-width="3"/></pattern></defs>',
    ]
    for tick in range(0, int(top_value) + 1, 10):
        x = label_w + tick * scale
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 8}" stroke="#e4e7eb"/>')
        out.append(f'<text x="{x:.1f}" y="{top - 10}" font-size="10" text-anchor="middle" fill="#627d98">{tick}</text>')
    for i, (r, label) in enumerate(zip(rows, row_labels(rows))):
        e = r.entry
        y = top + i * row_h
        fill = BASELINE_COLOUR if e.kind == "baseline" else ("url(#hatch)" if r.flags else RUN_COLOUR)
        tip = f"{label}: {e.value_text}"
        if e.ci_low is not None and e.ci_high is not None:
            tip += f" (95% CI {e.ci_low:.1f}-{e.ci_high:.1f}{', approx.' if e.kind == 'baseline' else ''})"
        if r.flags:
            tip += " | " + "; ".join(r.flags)
        # What fits left of the bars at 12px (bold run labels are wider; ⚠ takes two characters).
        warn = r.flags and e.kind == "run"
        limit = int((label_w - 12) / (7.6 if e.kind == "run" else 6.8)) - len(f"{r.rank}. ") - (2 if warn else 0)
        name = _fit(label, limit)
        weight = ' font-weight="600"' if e.kind == "run" else ""
        out.append(
            f'<text x="{label_w - 6}" y="{y + 13}" font-size="12" text-anchor="end"{weight}>'
            f'{_e(r.rank)}. {_e(name)}{" ⚠" if warn else ""}</text>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{max(e.value * scale, 1):.1f}" height="{row_h - 6}" '
            f'fill="{fill}"><title>{_e(tip)}</title></rect>'
        )
        if e.ci_low is not None and e.ci_high is not None:
            x0, x1, yc = label_w + e.ci_low * scale, label_w + e.ci_high * scale, y + row_h / 2
            out.append(
                f'<path d="M{x0:.1f} {yc:.1f}H{x1:.1f}M{x0:.1f} {yc - 4:.1f}V{yc + 4:.1f}'
                f'M{x1:.1f} {yc - 4:.1f}V{yc + 4:.1f}" stroke="#243b53" stroke-width="1.2" fill="none"/>'
            )
        x_text = label_w + max(e.value, e.ci_high or 0) * scale + 5
        out.append(f'<text x="{x_text:.1f}" y="{y + 13}" font-size="11" fill="#334e68">{_e(e.value_text)}</text>')
    out.append("</svg>")
    return "".join(out)


def base_chart_svg(chart: BaseChart, width: int = 900) -> str:
    """Grouped vertical bars per benchmark (and the average): the base model and its variants."""
    models = (chart.base, *chart.variants)
    groups = [column_label(c) for c in chart.columns] + ["Average"]
    values: dict[tuple[str, int], float] = {}
    for m in models:
        present = [chart.values[(m, c)] for c in chart.columns if (m, c) in chart.values]
        for g, c in enumerate(chart.columns):
            if (m, c) in chart.values:
                values[(m, g)] = chart.values[(m, c)]
        if len(present) == len(chart.columns) and present:
            values[(m, len(chart.columns))] = sum(present) / len(present)
    legend_cols = 3  # model names run to ~30 characters ("InternVL3.0-38B + SOPHIA + GRPO")
    legend_rows = -(-len(models) // legend_cols)
    left, top, plot_h = 36, 16, 220
    bottom = 46 + 18 * legend_rows
    group_w = (width - left - 10) / len(groups)
    bar_w = min(28.0, (group_w - 10) / len(models))
    top_value = max([10.0] + list(values.values()))
    top_value = min(100.0, (int(top_value / 10) + 1) * 10)
    height = top + plot_h + bottom
    y_of = lambda v: top + plot_h - v / top_value * plot_h  # noqa: E731
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(chart.base)} and trained variants">'
    ]
    for tick in range(0, int(top_value) + 1, 10):
        y = y_of(tick)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#e4e7eb"/>')
        out.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end" fill="#627d98">{tick}</text>')
    for g, label in enumerate(groups):
        gx = left + g * group_w + (group_w - bar_w * len(models)) / 2
        for s, m in enumerate(models):
            if (m, g) not in values:
                continue
            v = values[(m, g)]
            x, y = gx + s * bar_w, y_of(v)
            tip = f"{m} on {label}: {v:.2f}"
            ci = chart.intervals.get((m, chart.columns[g])) if g < len(chart.columns) else None
            if ci is not None:
                tip += f" (95% CI {ci[0]:.1f}-{ci[1]:.1f})"
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{top + plot_h - y:.1f}" '
                f'fill="{SERIES[s % len(SERIES)]}"><title>{_e(tip)}</title></rect>'
            )
            label_y = y
            if ci is not None:  # a run's 95% interval as a vertical whisker on its bar
                cx, lo, hi = x + bar_w / 2 - 1, y_of(max(ci[0], 0.0)), y_of(min(ci[1], top_value))
                out.append(
                    f'<path class="whisker" d="M{cx:.1f} {lo:.1f}V{hi:.1f}M{cx - 3:.1f} {lo:.1f}H{cx + 3:.1f}'
                    f'M{cx - 3:.1f} {hi:.1f}H{cx + 3:.1f}" stroke="#243b53" stroke-width="1.2" fill="none"/>'
                )
                label_y = min(y, hi)
            if s > 0 and len(models) <= 3 and (chart.base, g) in values:
                delta = v - values[(chart.base, g)]
                colour = "#2e7d32" if delta >= 0 else "#c62828"
                out.append(
                    f'<text x="{x + bar_w / 2 - 1:.1f}" y="{label_y - 3:.1f}" font-size="9" text-anchor="middle" '
                    f'fill="{colour}">{delta:+.1f}</text>'
                )
        cx = left + g * group_w + group_w / 2
        weight = ' font-weight="600"' if label == "Average" else ""
        first, _, rest = label.partition(" ")
        out.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 14}" font-size="11" text-anchor="middle"{weight}>'
            f'{_e(first)}<tspan x="{cx:.1f}" dy="12" font-size="9" fill="#627d98">{_e(rest)}</tspan></text>'
        )
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#9aa5b1"/>')
    for s, m in enumerate(models):
        lx = left + (s % legend_cols) * (width - left) // legend_cols
        ly = top + plot_h + 40 + (s // legend_cols) * 18
        out.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{SERIES[s % len(SERIES)]}"/>')
        out.append(f'<text x="{lx + 16}" y="{ly + 10}" font-size="11">{_e(m)}</text>')
    out.append("</svg>")
    return "".join(out)


def _scroll_table(head: str, rows: list[str], cls: str = "") -> str:
    """A table in a box that scrolls sideways when wider than the page (the page itself never does)."""
    attr = f' class="{cls}"' if cls else ""
    return f'<div class="scroll"><table{attr}><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _deltas_html(chart: BaseChart) -> str:
    head = "".join(f"<th>{_e(column_label(c))}</th>" for c in chart.columns)
    rows = []
    for name, deltas, avg in chart_deltas(chart):
        cells = "".join(f'<td class="num">{deltas[c]:+.2f}</td>' if c in deltas else "<td></td>" for c in chart.columns)
        rows.append(f'<tr><td>{_e(name)}</td>{cells}<td class="num"><b>{"" if avg is None else f"{avg:+.2f}"}</b></td></tr>')
    return _scroll_table(f"<th>Points over {_e(chart.base)}</th>{head}<th>Average</th>", rows)


def _run_links(r: OverviewRow, link_base: Path | None) -> str:
    """Links from an overview row to its runs' directories and samples (relative to the page)."""
    if link_base is None or r.kind != "run":
        return ""
    links = []
    for run in dict.fromkeys(c.entry.run.path for c in r.cells.values() if c.entry.run is not None):
        href = Path(os.path.relpath(Path(run).resolve(), link_base.resolve())).as_posix()
        links.append(f'<a href="{_e(href)}/">{_e(Path(run).name)}</a> (<a href="{_e(href)}/samples.jsonl">samples</a>)')
    return '<br><span class="muted">' + "<br>".join(links) + "</span>" if links else ""


def _pair_tests_html(chart: BaseChart, ov: Overview) -> str:
    """For a `--pair` of runs: per benchmark, the checkpoint's gain over the base with its paired
    95% interval and p-value (as `sophia-eval compare` computes them from the records)."""
    from sophia_eval.board.compare import ProtocolMismatch, compare_runs

    runs = {r.model: r for r in ov.rows if r.kind == "run"}
    base = runs.get(chart.base)
    rows = []
    for name in chart.variants:
        variant = runs.get(name)
        for c in chart.columns:
            a = base.cells[c].entry.run if base and c in base.cells else None
            b = variant.cells[c].entry.run if variant and c in variant.cells else None
            if a is None or b is None:
                continue
            try:
                cmp = compare_runs(a, b, force=True, n_resamples=2000)
            except ProtocolMismatch as exc:
                rows.append(f"<tr><td>{_e(name)}</td><td>{_e(column_label(c))}</td><td colspan=\"4\">{_e(exc)}</td></tr>")
                continue
            t = cmp.test
            ci = "" if t.ci_low is None else f"{100 * t.ci_low:+.1f} to {100 * t.ci_high:+.1f}"
            p = "<1e-4" if t.p_value < 1e-4 else f"{t.p_value:.4f}"
            note = "; ".join(cmp.differences)
            rows.append(f"<tr><td>{_e(name)}</td><td>{_e(column_label(c))}</td><td class=\"num\">{100 * t.delta:+.2f}</td>"
                        f"<td class=\"num\">{ci}</td><td class=\"num\">{p}</td>"
                        f"<td>{_e(t.method)}{' (' + str(t.n_items) + ' items)'}{'; protocols differ: ' + _e(note) if note else ''}</td></tr>")
    if not rows:
        return ""
    return _scroll_table(f"<th>Checkpoint</th><th>Benchmark</th><th>Δ points over {_e(chart.base)}</th>"
                         "<th>95% CI</th><th>p</th><th>Test</th>", rows)


def _overview_html(ov: Overview, link_base: Path | None = None) -> str:
    """Rank, model and average first (visible without scrolling); every column sorts on click."""
    head = "".join(f'<th class="sort">{_e(column_label(c))}</th>' for c in ov.columns)
    rows = []
    full = len(ov.columns)
    for rank, r in enumerate(ov.rows, start=1):
        cls = ' class="run"' if r.kind == "run" else ""
        name = _e(r.display) + (' <span class="flag">⚠</span>' if r.flagged else "") + _run_links(r, link_base)
        cells = "".join(
            f'<td class="num">{_e(r.cells[c].entry.value_text) if c in r.cells else ""}</td>' for c in ov.columns
        )
        avg = "" if r.average is None else f"{r.average:.2f}" + ("*" if r.n_columns < full else "")
        place = str(rank) if r.n_columns == full else ""
        rows.append(f'<tr{cls}><td class="num">{place}</td><td>{name}</td><td class="num"><b>{avg}</b></td>'
                    f'<td class="num">{r.n_columns}/{full}</td>{cells}</tr>')
    return (
        _scroll_table('<th class="sort">#</th><th class="sort">Model</th><th class="sort">Average</th>'
                      f'<th class="sort">Benchmarks</th>{head}', rows, cls="overview") +
        '<p class="muted">#: rank by average among models with every benchmark of the protocol. '
        "Average: unweighted mean over the benchmarks a model has (SOPHIA-style); "
        "* marks an average over fewer benchmarks than the protocol's. ⚠: a run with flags "
        "(protocol differences from the published numbers, or a subset of the items; see the tables below). "
        "Click a column header to sort.</p>"
    )


def _table_html(t: Table) -> str:
    rows = []
    for r, label in zip(t.rows, row_labels(t.rows)):
        e = r.entry
        ci = "" if e.ci_low is None or e.ci_high is None else f"{e.ci_low:.1f}–{e.ci_high:.1f}" + ("~" if e.kind == "baseline" else "")
        if e.baseline is not None:
            b = e.baseline
            src = f'<a href="{_e(b.source_url)}">{_e(b.reported_by)}</a>, {_e(b.source_date)} ({_e(b.reported_as)})'
        else:
            src = f"<code>{_e(portable_path(e.source))}</code>"
        cls = ' class="run"' if e.kind == "run" else ""
        rows.append(
            f"<tr{cls}><td class=\"num\">{r.rank}</td><td>{_e(label)}</td>"
            f"<td class=\"num\">{_e(e.value_text)}</td><td class=\"num\">{ci}</td>"
            f"<td class=\"flag\">{_e('; '.join(r.flags))}</td><td>{src}</td></tr>"
        )
    notes = "".join(f'<p class="muted">{_e(n)}</p>' for n in t.notes)
    return (
        f"<h3 id=\"{_anchor(t.protocol, *t.column)}\">{_e(t.benchmark)} / {_e(t.split)} / {_e(t.metric)}</h3>"
        f"{notes}{bar_chart_svg(t)}<details><summary>Table with flags and sources ({len(t.rows)} rows)</summary>"
        + _scroll_table("<th>#</th><th>Model</th><th>Value</th><th>95% CI</th><th>Flags</th><th>Source</th>", rows)
        + "</details>"
    )


def to_html(board: Leaderboard, *, title: str = "sophia-eval leaderboard", link_base: Path | None = None) -> str:
    """The page; with `link_base` (the folder the page is written to), run rows link to their
    run directories relative to it."""
    n_pub = sum(1 for _, r in board.entries() if r.entry.kind == "baseline")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{_anchor(ov.protocol)}">{_e(protocol_title(board, ov.protocol))}</a>' for ov in board.overviews)
    parts = [
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1><p class=\"muted\">Generated {when} from {len(board.runs)} stored run(s) and "
        f"{n_pub} published number(s). One table per benchmark, split, metric and protocol; runs join "
        "published tables only when benchmark, split and metric agree, and every other difference is "
        "flagged. Published numbers carry no interval; their whiskers (~) are approximate Wilson "
        "intervals over the split size.</p>",
        '<p class="legend">'
        f'<span><i style="background:{BASELINE_COLOUR}"></i>published</span>'
        f'<span><i style="background:{RUN_COLOUR}"></i>your run (same protocol)</span>'
        f'<span><i style="background:#f6c3a5;border:1px solid {RUN_COLOUR}"></i>your run, flagged</span></p>',
        f"<nav>{nav}</nav>",
    ]
    for path, reason in board.skipped:
        parts.append(f'<p class="flag">Left out <code>{_e(portable_path(path))}</code>: {_e(reason)}</p>')
    for ov in board.overviews:
        pid = ov.protocol
        parts.append(f'<h2 id="{_anchor(pid)}">{_e(protocol_title(board, pid))}</h2>')
        if pid in board.protocols:
            p = board.protocols[pid]
            parts.append(f"<p>Protocol <code>{_e(pid)}</code>: {_e(p.description)}</p>")
            if p.notes:
                parts.append(f'<p class="muted">{_e(p.notes)}</p>')
        parts.append(_overview_html(ov, link_base))
        charts = [c for c in board.charts if c.protocol == pid]
        # the user's own checkpoint-vs-base pairs (a run as base) before the published ones
        for chart in sorted(charts, key=lambda c: c.base_run_preset is None):
            tests = _pair_tests_html(chart, ov) if chart.base_run_preset is not None else ""
            parts.append(f"<h3>{_e(chart.title)}</h3>{base_chart_svg(chart)}{tests or _deltas_html(chart)}")
        for t in (t for t in board.tables if t.protocol == pid):
            parts.append(_table_html(t))
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    return "\n".join(parts)
