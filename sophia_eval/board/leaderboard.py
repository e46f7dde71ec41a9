"""Leaderboards built only from stored run records plus published baselines.

One table per (benchmark, split, metric, protocol). Published numbers sit in the table of their
own protocol. A run joins a published table only when benchmark, split and metric agree; each
difference from that protocol (preset, decoding, judge/extractor, item subset) is a flag on the
row, so nothing is mixed silently. A run with no published counterpart gets a table of its own.
Per protocol, an overview gives every model's numbers side by side and the SOPHIA-style average
(unweighted mean over the benchmarks the model has; an average over fewer columns is marked).

Writers for markdown and CSV live in `leaderboard_io`; the HTML page in `report_html`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sophia_eval.board.baselines import METRICS_BY_KIND, Baseline, PublishedProtocol
from sophia_eval.runs.reading import RunInfo
from sophia_eval.scoring.intervals import wilson_percent

Column = tuple[str, str, str]
"""(benchmark, split, metric)."""
RUN_ONLY_PREFIX = "run:"
"""Protocol key of a table holding only runs of one preset (no published counterpart)."""


@dataclass(frozen=True)
class Entry:
    """One number on a leaderboard: a published baseline or a stored run's metric."""

    kind: str
    """`baseline` or `run`."""
    model: str
    benchmark: str
    split: str
    metric: str
    protocol: str
    """The entry's own protocol: a baselines protocol id, or the run's preset name."""
    value: float
    value_text: str
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str = ""
    n_items: int | None = None
    source: str = ""
    """`file:line` of a baseline, or the run directory."""
    baseline: Baseline | None = None
    run: RunInfo | None = None

    @property
    def column(self) -> Column:
        return (self.benchmark, self.split, self.metric)

    @property
    def display(self) -> str:
        """Model name; a run also names its preset (one model may have runs under several)."""
        return self.model if self.kind == "baseline" else f"{self.model} (run, {self.protocol})"


@dataclass(frozen=True)
class Row:
    rank: int
    entry: Entry
    flags: tuple[str, ...] = ()
    """Why this row is not like-for-like with the table's protocol (empty: it is)."""


@dataclass(frozen=True)
class Table:
    benchmark: str
    split: str
    metric: str
    protocol: str
    """Baselines protocol id, or `run:<preset>` for a table of runs only."""
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    @property
    def column(self) -> Column:
        return (self.benchmark, self.split, self.metric)


@dataclass(frozen=True)
class OverviewRow:
    model: str
    kind: str
    cells: Mapping[Column, Row]
    average: float | None
    """Unweighted mean over the columns present (SOPHIA-style average)."""
    n_columns: int
    flagged: bool
    preset: str = ""
    """The runs' preset (empty for a published model)."""

    @property
    def display(self) -> str:
        return self.model if self.kind == "baseline" else f"{self.model} (run, {self.preset})"


@dataclass(frozen=True)
class Overview:
    protocol: str
    columns: tuple[Column, ...]
    rows: tuple[OverviewRow, ...]


@dataclass(frozen=True)
class BaseChart:
    """A base model and its trained variants across a protocol's benchmarks (SOPHIA Figure 1)."""

    protocol: str
    base: str
    variants: tuple[str, ...]
    columns: tuple[Column, ...]
    values: Mapping[tuple[str, Column], float]
    base_run_preset: str | None = None
    """Preset of the base's run when the chart uses a run of the base (a --pair), else None."""
    intervals: Mapping[tuple[str, Column], tuple[float, float]] = field(default_factory=dict)
    """95% interval of each run's value (from its summary); published numbers get none here."""

    @property
    def title(self) -> str:
        """'<base> vs trained variants' for a published base; a run base names itself and its variants."""
        if self.base_run_preset is None:
            return f"{self.base} vs trained variants"
        return f"{self.base} (run, {self.base_run_preset}) vs {', '.join(self.variants)}"


@dataclass(frozen=True)
class Leaderboard:
    tables: tuple[Table, ...]
    overviews: tuple[Overview, ...]
    charts: tuple[BaseChart, ...]
    protocols: Mapping[str, PublishedProtocol]
    runs: tuple[RunInfo, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    """(run directory, reason) for runs left out (incomplete, no summary)."""

    def entries(self) -> list[tuple[Table, Row]]:
        return [(t, r) for t in self.tables for r in t.rows]


# -- entries --------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def baseline_entry(b: Baseline, n_items: int | None) -> Entry:
    """A published number; accuracies get an approximate Wilson interval when the split size is known."""
    ci_low = ci_high = None
    method = ""
    if b.metric == "pass@1" and n_items:
        ci_low, ci_high = wilson_percent(b.value, n_items)
        method = f"approx. Wilson 95% over n={n_items} (published without an interval)"
    return Entry(
        kind="baseline", model=b.model, benchmark=b.benchmark, split=b.split, metric=b.metric,
        protocol=b.protocol, value=b.value, value_text=b.value_text, ci_low=ci_low, ci_high=ci_high,
        ci_method=method, n_items=n_items, source=b.where, baseline=b,
    )


def run_entries(run: RunInfo, kind: str) -> list[Entry]:
    """One entry per leaderboard metric in the run's summary (pass@1 and the benchmark's own)."""
    allowed = METRICS_BY_KIND.get(kind, frozenset({"pass@1"}))
    out = []
    for name, m in (run.summary.get("metrics") or {}).items():
        if name not in allowed or not isinstance(m, Mapping) or m.get("value") is None:
            continue
        value = float(m["value"])
        low, high = m.get("ci_low"), m.get("ci_high")
        out.append(Entry(
            kind="run", model=run.model, benchmark=run.benchmark, split=run.split, metric=name,
            protocol=run.preset, value=value, value_text=_fmt(value),
            ci_low=float(low) if low is not None else None, ci_high=float(high) if high is not None else None,
            ci_method=f"run summary ({m.get('ci_method') or 'interval'})" if low is not None else "",
            n_items=m.get("n_items"),
            source=str(run.path), run=run,
        ))
    return out


# -- flags ----------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    try:
        return math.isclose(float(a), float(b))
    except (TypeError, ValueError):
        return a == b


def run_flags(run: RunInfo, protocol: PublishedProtocol | None, split_items: int | None) -> tuple[str, ...]:
    """Differences between a run and a published protocol (None: a run-only table)."""
    flags: list[str] = []
    if protocol is not None:
        if not protocol.run_presets:
            flags.append(f"published protocol '{protocol.id}' has no reproducible preset; indicative only")
        elif run.preset not in protocol.run_presets:
            flags.append(f"preset '{run.preset}' (published: {'/'.join(protocol.run_presets)})")
        for key, want in (protocol.decoding or {}).items():
            have = run.generation.get(key)
            if have is not None and not _same(have, want):
                flags.append(f"{key} {have} (published {want})")
        hint = run.config.get("use_hint")
        if protocol.use_hint is not None and hint is not None and bool(hint) != protocol.use_hint:
            flags.append(f"benchmark hint {'prepended' if hint else 'omitted'} (published: {'prepended' if protocol.use_hint else 'omitted'})")
        published_judge = protocol.judges.get(run.benchmark)
        if published_judge and run.judge_model != published_judge:
            flags.append(f"judge {run.judge_model or 'none'} (published {published_judge})")
        elif protocol.extractor and run.judge_model != protocol.extractor:
            flags.append(f"extraction {run.judge_model or 'rule-based'} (published LLM {protocol.extractor})")
    scored = run.summary.get("n_items")
    if run.shard is not None:
        flags.append(f"single shard {run.shard[0]}/{run.shard[1]}")
    if split_items and isinstance(scored, int) and scored < split_items:
        flags.append(f"subset: {scored} of {split_items} items")
    elif run.limit is not None and not split_items:
        flags.append(f"subset: --limit {run.limit}")
    if run.summary.get("n_unscored_items"):
        flags.append(f"{run.summary['n_unscored_items']} item(s) not scored (backend errors, timeouts)")
    if run.summary.get("judge_failures"):
        flags.append(f"{run.summary['judge_failures']} judge failures")
    return tuple(flags)


def baseline_flags(b: Baseline) -> tuple[str, ...]:
    return {"yes": ("self-reported",), "mixed": ("mixed sources",)}.get(b.self_reported, ())


# -- building -------------------------------------------------------------------------------


def _ranked(items: Iterable[tuple[Entry, tuple[str, ...]]]) -> tuple[Row, ...]:
    """Competition ranking by value (ties share a rank), runs before baselines on ties."""
    ordered = sorted(items, key=lambda x: (-x[0].value, x[0].kind != "run", x[0].model))
    rows, rank, prev = [], 0, None
    for i, (entry, flags) in enumerate(ordered, start=1):
        if entry.value != prev:
            rank, prev = i, entry.value
        rows.append(Row(rank=rank, entry=entry, flags=flags))
    return tuple(rows)


def build_leaderboard(
    runs: Sequence[RunInfo],
    baselines: Sequence[Baseline],
    protocols: Mapping[str, PublishedProtocol],
    vocab: Mapping[str, tuple[Mapping[str, int | None], str]],
    *,
    skipped: Sequence[tuple[str, str]] = (),
    pairs: Sequence[tuple[str, str]] = (),
) -> Leaderboard:
    """Tables, per-protocol overviews and base-vs-checkpoint charts.

    `vocab` is `baselines.registry_vocabulary()` (split sizes for intervals and subset flags,
    metric kinds). `pairs` adds (base model, checkpoint model) charts for runs.
    """
    def split_n(bench: str, split: str) -> int | None:
        return (vocab.get(bench, ({}, ""))[0] or {}).get(split)

    groups: dict[tuple[str, str, str, str], list[tuple[Entry, tuple[str, ...]]]] = defaultdict(list)
    column_order: dict[str, list[Column]] = defaultdict(list)
    for b in baselines:
        e = baseline_entry(b, split_n(b.benchmark, b.split))
        groups[(*e.column, b.protocol)].append((e, baseline_flags(b)))
        if e.column not in column_order[b.protocol]:
            column_order[b.protocol].append(e.column)
    published = {key[:3]: [] for key in groups}
    for key in groups:
        published[key[:3]].append(key[3])
    left_out = list(skipped)
    for run in runs:
        kind = vocab.get(run.benchmark, ({}, run.metric_kind))[1]
        n = split_n(run.benchmark, run.split)
        entries = run_entries(run, kind)
        if not entries:
            left_out.append((str(run.path), _no_value_reason(run)))
        for e in entries:
            targets = published.get(e.column)
            if targets:
                for pid in targets:
                    groups[(*e.column, pid)].append((e, run_flags(run, protocols[pid], n)))
            else:
                pid = RUN_ONLY_PREFIX + run.preset
                groups[(*e.column, pid)].append((e, run_flags(run, None, n)))
                if e.column not in column_order[pid]:
                    column_order[pid].append(e.column)
    tables = []
    for (bench, split, metric, pid), items in groups.items():
        notes = []
        if pid.startswith(RUN_ONLY_PREFIX):
            elsewhere = sorted({f"{s} / {m}" for (b2, s, m) in published if b2 == bench})
            if elsewhere:
                notes.append(f"Published {bench} numbers use other split/metric ({', '.join(elsewhere)}); not mixed in.")
            else:
                notes.append(f"No published baseline for {bench} / {split} / {metric}.")
        if pid.startswith(RUN_ONLY_PREFIX):
            items = _flag_disagreements(items)
        tables.append(Table(bench, split, metric, pid, _ranked(items), tuple(notes)))
    order = {pid: i for i, pid in enumerate(column_order)}
    tables.sort(key=lambda t: (order[t.protocol], column_order[t.protocol].index(t.column)))
    overviews = tuple(_overview(pid, cols, tables) for pid, cols in column_order.items())
    charts = _charts(overviews, pairs)
    return Leaderboard(
        tables=tuple(tables), overviews=overviews, charts=charts, protocols=dict(protocols),
        runs=tuple(runs), skipped=tuple(left_out),
    )


def _no_value_reason(run: RunInfo) -> str:
    counts = run.summary.get("status_counts") or {}
    seen = ", ".join(f"{k} {v}" for k, v in counts.items()) or "no records"
    return f"no scored value for any leaderboard metric (sample statuses: {seen}); see its samples.jsonl"


RUN_SETTINGS = ("temperature", "top_p", "max_new_tokens", "n", "system_prompt", "prompt_template", "use_hint")
"""Settings that must agree between runs sharing a table with no published protocol to refer to."""


def _flag_disagreements(items: list[tuple[Entry, tuple[str, ...]]]) -> list[tuple[Entry, tuple[str, ...]]]:
    """In a runs-only table, flag each setting on which the runs disagree (never mixed silently)."""
    runs = [e.run for e, _ in items if e.run is not None]
    keys = [k for k in RUN_SETTINGS if len({repr(r.setting(k)) for r in runs}) > 1]
    if len({r.judge_model for r in runs}) > 1:
        keys.append("judge")
    out = []
    for e, flags in items:
        if e.run is None or not keys:
            out.append((e, flags))
            continue
        extra = tuple(
            f"{k} {e.run.judge_model if k == 'judge' else e.run.setting(k)} (differs between runs here)" for k in keys
        )
        out.append((e, extra + flags))
    return out


def _row_key(entry: Entry) -> tuple[str, str]:
    return (entry.model, entry.kind if entry.kind == "baseline" else f"run:{entry.protocol}")


def _overview(pid: str, columns: Sequence[Column], tables: Sequence[Table]) -> Overview:
    cells: dict[tuple[str, str], dict[Column, Row]] = defaultdict(dict)
    for t in tables:
        if t.protocol != pid:
            continue
        for row in t.rows:
            slot = cells[_row_key(row.entry)]
            prior = slot.get(t.column)
            # Several runs of one model on one column: the newest complete run represents it.
            if prior is None or (row.entry.run and prior.entry.run and row.entry.run.created_at > prior.entry.run.created_at):
                slot[t.column] = row
    rows = []
    for (model, kind), by_col in cells.items():
        values = [r.entry.value for r in by_col.values()]
        rows.append(OverviewRow(
            model=model, kind="baseline" if kind == "baseline" else "run", cells=by_col,
            average=sum(values) / len(values) if values else None, n_columns=len(by_col),
            flagged=any(r.flags and r.entry.kind == "run" for r in by_col.values()),
            preset="" if kind == "baseline" else kind[len("run:"):],
        ))
    full = len(columns)
    rows.sort(key=lambda r: (r.n_columns != full, -(r.average or 0.0), r.model))
    return Overview(protocol=pid, columns=tuple(columns), rows=tuple(rows))


def _charts(overviews: Sequence[Overview], pairs: Sequence[tuple[str, str]]) -> tuple[BaseChart, ...]:
    """Published '<base> + <method>' models against their base, and requested run pairs.

    Published charts use only published rows, so a local run of a published base model (same
    display name) neither hides its chart nor replaces its numbers. A requested pair uses each
    model's run when there is one, else its published row; a pair on a published base with no
    run of that base joins the published chart.
    """
    charts = []
    for ov in overviews:
        published = {r.model: r for r in ov.rows if r.kind == "baseline"}
        ran: dict[str, OverviewRow] = {}
        for r in ov.rows:  # rows are sorted best first: a model's best-covered run represents it
            if r.kind == "run":
                ran.setdefault(r.model, r)
        bases: dict[tuple[str, str], OverviewRow] = {}
        variants: dict[tuple[str, str], list[OverviewRow]] = defaultdict(list)
        for r in published.values():
            if " + " in r.model:
                base = r.model.split(" + ")[0].strip()
                if base in published:
                    bases[(base, "baseline")] = published[base]
                    variants[(base, "baseline")].append(r)
        for base, ckpt in pairs:
            b_row, c_row = ran.get(base) or published.get(base), ran.get(ckpt) or published.get(ckpt)
            if b_row is None or c_row is None:
                continue
            key = (base, b_row.kind)
            if any(v.model == ckpt for v in variants[key]):
                continue
            bases[key] = b_row
            variants[key].append(c_row)
        for key, rows in variants.items():
            if not rows:
                continue
            b_row = bases[key]
            cols = tuple(c for c in ov.columns if c in b_row.cells)
            values = {(b_row.model, c): b_row.cells[c].entry.value for c in cols}
            for r in rows:
                values.update({(r.model, c): r.cells[c].entry.value for c in cols if c in r.cells})
            intervals = {}
            for r in (b_row, *rows):
                for c in cols:
                    e = r.cells[c].entry if r.kind == "run" and c in r.cells else None
                    if e is not None and e.ci_low is not None and e.ci_high is not None:
                        intervals[(r.model, c)] = (e.ci_low, e.ci_high)
            charts.append(BaseChart(ov.protocol, b_row.model, tuple(r.model for r in rows), cols, values,
                                    base_run_preset=b_row.preset if b_row.kind == "run" else None,
                                    intervals=intervals))
    return tuple(charts)


def average_of(overview: Overview, model: str) -> float | None:
    """The SOPHIA-style average of `model` in `overview` (None when absent)."""
    return next((r.average for r in overview.rows if r.model == model), None)
