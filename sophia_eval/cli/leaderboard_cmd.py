"""`sophia-eval leaderboard` and `sophia-eval compare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

_EXIT_BAD_INPUT = 2


def _fail(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, emoji=False).print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=_EXIT_BAD_INPUT)


def _short(col) -> str:
    bench, _split, metric = col
    return bench + {"pass@1": "", "worst_case": " wc", "wemath_strict": " strict", "wemath_loose": " loose"}.get(metric, f" {metric}")


def _near_runs(rows, keep_top: int = 3):
    """Runs, the top published rows, and the published rows just above and below each run."""
    keep = set(range(min(keep_top, len(rows))))
    for i, r in enumerate(rows):
        if r.entry.kind == "run":
            keep |= {i - 1, i, i + 1}
    return [rows[i] for i in sorted(k for k in keep if 0 <= k < len(rows))]


def _print_leaderboard(board, show_all: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table as RichTable

    from sophia_eval.board.labels import protocol_title

    console = Console(emoji=False)
    for path, reason in board.skipped:
        console.print(f"[yellow]left out[/] {escape(path)}: {escape(reason)}", highlight=False)
    for ov in board.overviews:
        if not (show_all or any(r.kind == "run" for r in ov.rows)):
            continue
        t = RichTable(title=f"{escape(protocol_title(board, ov.protocol))}: overview", title_justify="left")
        t.add_column("Model", no_wrap=True, max_width=30, overflow="ellipsis")
        for c in ov.columns:
            t.add_column(_short(c), justify="right")
        t.add_column("Avg", justify="right", style="bold")
        full = [r for r in ov.rows if r.kind == "baseline" and r.n_columns == len(ov.columns)]
        rows = ov.rows if show_all else [r for r in ov.rows if r.kind == "run" or r in full[:5]]
        for r in rows:
            name = f"[bold orange3]{escape(r.display)}[/]" if r.kind == "run" else escape(r.model)
            avg = "" if r.average is None else f"{r.average:.2f}" + ("*" if r.n_columns < len(ov.columns) else "")
            t.add_row(name + (" ⚠" if r.flagged else ""),
                      *(r.cells[c].entry.value_text if c in r.cells else "" for c in ov.columns), avg)
        if len(rows) < len(ov.rows):
            t.caption = f"{len(rows)} of {len(ov.rows)} rows (runs and the top published); --all or the written files for all"
        console.print(t)
    for table in board.tables:
        if not (show_all or any(r.entry.kind == "run" for r in table.rows)):
            continue
        t = RichTable(title=escape(f"{table.benchmark} / {table.split} / {table.metric}  [{protocol_title(board, table.protocol)}]"),
                      title_justify="left")
        t.add_column("#", justify="right")
        t.add_column("Model", max_width=40, overflow="fold")
        t.add_column("Value", justify="right")
        t.add_column("95% CI", justify="right", no_wrap=True)
        t.add_column("Flags", overflow="fold")
        from sophia_eval.board.labels import row_labels

        rows = table.rows if show_all else _near_runs(table.rows)
        for r, label in zip(rows, row_labels(rows)):
            e = r.entry
            ci = "" if e.ci_low is None else f"{e.ci_low:.1f}-{e.ci_high:.1f}" + ("~" if e.kind == "baseline" else "")
            name = f"[bold orange3]{escape(label)}[/]" if e.kind == "run" else escape(label)
            t.add_row(str(r.rank), name, e.value_text, ci, escape("; ".join(r.flags)))
        captions = list(table.notes)
        if len(rows) < len(table.rows):
            captions.append(f"{len(rows)} of {len(table.rows)} rows shown; --all or the written files for all")
        t.caption = escape(" ".join(captions)) or None
        console.print(t)


def register(app: typer.Typer) -> None:
    @app.command("leaderboard")
    def leaderboard(
        run_dirs: List[Path] = typer.Argument(None, help="Run directories, or directories of runs (searched recursively)."),
        runs: Optional[Path] = typer.Option(None, "--runs", help="A directory of runs (default: ./runs if it exists)."),
        out: Path = typer.Option(Path("leaderboards/generated"), "--out", help="Where to write leaderboard.md/.csv/.html."),
        baselines: Optional[Path] = typer.Option(None, "--baselines", help="Baselines directory (default: the bundled one)."),
        pair: List[str] = typer.Option([], "--pair", help="BASE=CHECKPOINT model names to chart side by side (repeatable)."),
        show_all: bool = typer.Option(False, "--all", help="Print every table, not only those with your runs."),
    ) -> None:
        """Rank stored runs beside published baselines, per benchmark and protocol; write md, CSV, HTML."""
        from sophia_eval.board.baselines import BaselineError, load_baselines, load_protocols, registry_vocabulary
        from sophia_eval.board.leaderboard import build_leaderboard
        from sophia_eval.board.output import write_outputs
        from sophia_eval.runs.reading import load_runs
        from sophia_eval.runs.store import RunStoreError

        pairs = []
        for p in pair:
            base, sep, ckpt = p.partition("=")
            if not sep or not base.strip() or not ckpt.strip():
                _fail(f"--pair {p!r}: expected BASE=CHECKPOINT (model names as shown on the leaderboard)")
            pairs.append((base.strip(), ckpt.strip()))
        paths = list(run_dirs or []) + ([runs] if runs else [])
        if not paths and Path("runs").is_dir():
            paths = [Path("runs")]
        try:
            vocab = registry_vocabulary()
            found, skipped = load_runs(paths) if paths else ([], [])
            protocols = load_protocols(baselines)
            published = load_baselines(baselines, vocab=vocab)
        except (RunStoreError, BaselineError, ValueError) as exc:  # ValueError: registry spec errors
            _fail(str(exc))
        board = build_leaderboard(found, published, protocols, vocab, skipped=skipped, pairs=pairs)
        _print_leaderboard(board, show_all)
        for base, ckpt in pairs:
            if not any(c.base == base and ckpt in c.variants for c in board.charts):
                known = sorted({r.model for ov in board.overviews for r in ov.rows if r.kind == "run"})
                typer.echo(f"warning: --pair {base}={ckpt}: no protocol has both models; run models: {known}", err=True)
        try:
            written = write_outputs(board, out)
        except OSError as exc:
            _fail(f"{out}: cannot write the leaderboard files ({exc}); choose another --out")
        typer.echo(
            f"{len(found)} run(s), {len(published)} published numbers -> "
            + ", ".join(str(p) for p in written.values())
        )
        if not paths:
            typer.echo("no runs given (and no ./runs): the leaderboard holds published baselines only")

    @app.command("compare")
    def compare(
        run_a: Path = typer.Argument(..., help="Reference run (or directory of runs), e.g. the base model."),
        others: List[Path] = typer.Argument(..., help="Run(s) to compare against RUN_A, e.g. a trained checkpoint."),
        force: bool = typer.Option(False, "--force", help="Compare even when protocols differ (differences are flagged)."),
        resamples: int = typer.Option(10_000, "--resamples", min=100, help="Paired bootstrap resamples."),
        seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
        flips: int = typer.Option(20, "--flips", min=0, help="Flipped items to print per direction and benchmark."),
        json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the full comparison as JSON here."),
        markdown_out: Optional[Path] = typer.Option(None, "--markdown", help="Also write a markdown report here."),
    ) -> None:
        """Per-benchmark deltas with paired p-values, per-category deltas and flipped items."""
        from sophia_eval.board.compare import ProtocolMismatch, compare_paths, comparison_to_dict, comparison_to_markdown
        from sophia_eval.runs.store import RunStoreError

        results = []
        for other in others:
            try:
                results.append(compare_paths(str(run_a), str(other), force=force, n_resamples=resamples, seed=seed))
            except (RunStoreError, ProtocolMismatch) as exc:
                _fail(str(exc))
        for c in results:
            _print_comparison(c, flips)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps([comparison_to_dict(c) for c in results], indent=2) + "\n", encoding="utf-8")
            typer.echo(f"wrote {json_out}")
        if markdown_out is not None:
            markdown_out.parent.mkdir(parents=True, exist_ok=True)
            markdown_out.write_text("\n".join(comparison_to_markdown(c) for c in results), encoding="utf-8")
            typer.echo(f"wrote {markdown_out}")


def _p(p: float) -> str:
    return "<1e-4" if p < 1e-4 else f"{p:.4f}"


def _print_comparison(c, max_flips: int) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table as RichTable

    console = Console(emoji=False)
    t = RichTable(title=escape(f"B: {c.candidate}  vs  A: {c.reference}  (Δ = B - A)"), title_justify="left")
    for name in ("Benchmark", "Items", "A %", "B %", "Δ points", "95% CI", "p", "Test", "Flags"):
        t.add_column(name, justify="left" if name in ("Benchmark", "Test", "Flags") else "right",
                     overflow="fold")
    for bc in c.benchmarks:
        s = bc.test
        ci = "" if s.ci_low is None else f"{100 * s.ci_low:+.1f}..{100 * s.ci_high:+.1f}"
        colour = "green" if s.delta > 0 else ("red" if s.delta < 0 else "white")
        flags = []
        if bc.differences:
            flags.append("FORCED, protocols differ: " + "; ".join(bc.differences))
        if bc.only_a or bc.only_b:
            flags.append(f"{bc.only_a} item(s) only in A, {bc.only_b} only in B (left out)")
        t.add_row(f"{bc.benchmark}:{bc.split}", str(s.n_items), f"{100 * s.mean_a:.2f}", f"{100 * s.mean_b:.2f}",
                  f"[{colour}]{100 * s.delta:+.2f}[/]", ci, _p(s.p_value), s.method, escape("\n".join(flags)))
    if c.average is not None:
        a, b, d = c.average
        t.add_row(f"average of {len(c.benchmarks)}", "", f"{a:.2f}", f"{b:.2f}", f"{d:+.2f}", "", "", "unweighted", "")
    console.print(t)
    if c.unmatched:
        console.print(f"[yellow]on one side only (not compared):[/] {', '.join(c.unmatched)}", highlight=False)
    for bc in c.benchmarks:
        if bc.categories:
            ct = RichTable(title=f"{bc.benchmark}: per-category (p not corrected for multiple comparisons)",
                           title_justify="left")
            for name in ("Field", "Value", "Items", "A %", "B %", "Δ", "p"):
                ct.add_column(name, justify="right" if name not in ("Field", "Value") else "left")
            for cd in bc.categories:
                ct.add_row(escape(cd.field), escape(cd.value), str(cd.n_items), f"{cd.a:.1f}", f"{cd.b:.1f}", f"{cd.delta:+.1f}", _p(cd.p_value))
            console.print(ct)
        if bc.skipped_fields:
            console.print(f"  (breakdown left out for fields with many values: {', '.join(bc.skipped_fields)})")
        for direction, label in (("fixed", "wrong in A, right in B"), ("broken", "right in A, wrong in B")):
            items = [f for f in bc.flips if f.direction == direction]
            console.print(f"[bold]{bc.benchmark}[/]: {len(items)} item(s) {label}", highlight=False)
            for f in items[:max_flips]:
                console.print(
                    f"  {f.item_id}: gold {f.gold!r}; A {f.a_answer!r} ({f.a_score:.2f}) -> B {f.b_answer!r} ({f.b_score:.2f})",
                    highlight=False, markup=False,
                )
            if len(items) > max_flips:
                console.print(f"  ... {len(items) - max_flips} more (--flips N or --json for all)")
