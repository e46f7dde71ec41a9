"""`sophia-eval list` and `sophia-eval validate [NAMES] [--data-dir]`.

`validate` loads every split whose data is under the data root (all of them when names are
given: missing data is then an error), checks sha256 pins, item counts, images, and runs every
gold answer through `sophia_eval.verify.check_gold`. Any gold the verifier cannot parse is
listed with file:line and item id, and makes the command exit non-zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

_AVAIL_STYLE = {"local": "[green]local[/]", "metadata": "[yellow]metadata[/]", "missing": "[dim]missing[/]"}


def _root_or_none(data_dir: Optional[Path]) -> tuple[Path | None, str | None]:
    from sophia_eval.bench.loading import DataError, resolve_data_dir

    try:
        return resolve_data_dir(data_dir), None
    except DataError as exc:
        return None, str(exc)


GOLD_RETRY_BUDGETS = (10.0, 30.0)
"""Seconds: a gold check that times out (a long physics gold on a loaded machine) is retried with
these budgets before it is reported, as a timeout, never as an unparseable gold."""


def _timed_out(reason: str) -> bool:
    return reason.startswith("gold could not be checked: timeout")


def check_golds(samples: list[Any], *, progress: Any = None,
                check: Any = None) -> tuple[list[tuple[Any, str]], list[tuple[Any, str]]]:
    """(unparseable, timed_out): (sample, reason) for every gold answer the verifier does not
    understand, and for every gold whose check still timed out at the largest retry budget."""
    if check is None:
        from sophia_eval.verify import check_gold as check

    bad, slow = [], []
    for s in samples:
        kw = s.verify_kwargs()
        reason = check(gold=s.answer, **kw)
        for budget in GOLD_RETRY_BUDGETS:
            if reason is None or not _timed_out(reason):
                break
            reason = check(gold=s.answer, **{**kw, "timeout": budget})
        if reason is not None:
            (slow if _timed_out(reason) else bad).append((s, reason))
        if progress is not None:
            progress.advance(1)
    return bad, slow


def register(app: typer.Typer) -> None:
    @app.command("list")
    def list_cmd(
        data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Data root (default: $SOPHIA_EVAL_DATA, else ../shared/data)."),
    ) -> None:
        """Show every registered benchmark: splits with item counts, local availability, metric."""
        from rich.console import Console
        from rich.table import Table

        from sophia_eval.bench.loading import split_available
        from sophia_eval.bench.registry import list_benchmarks

        import sys

        console = Console(width=None if sys.stdout.isatty() else 110)  # pipes: do not cut columns to 80
        root, why = _root_or_none(data_dir)
        from rich import box

        table = Table(title=f"Benchmarks (data root: {root or 'not found'})", box=box.SIMPLE_HEAD)
        table.add_column("name", no_wrap=True)
        table.add_column("split", no_wrap=True)
        table.add_column("items", justify="right", no_wrap=True)
        table.add_column("data", no_wrap=True)
        table.add_column("metric", no_wrap=True)
        table.add_column("judge", no_wrap=True)
        for spec in list_benchmarks():
            for i, (name, sp) in enumerate(spec.splits.items()):
                avail = _AVAIL_STYLE[split_available(spec, name, root)] if root else "[dim]no data root[/]"
                table.add_row(
                    spec.name if i == 0 else "",
                    name + ("*" if name == spec.default_split else ""),
                    str(sp.n_items) if sp.n_items is not None else "?",
                    avail,
                    spec.metric if i == 0 else "",
                    spec.judge if i == 0 else "",
                    end_section=(i == len(spec.splits) - 1),
                )
        console.print(table)
        console.print("* default split; items '?' = count not verifiable offline; data: local = files and "
                      "images present, metadata = golds only (no images), missing = fixture-tested only")
        if why:
            console.print(f"[yellow]{why}[/]")

    @app.command("validate")
    def validate_cmd(
        names: Optional[list[str]] = typer.Argument(None, help="Benchmarks (name or name:split); default: all with local data."),
        data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Data root (default: $SOPHIA_EVAL_DATA, else ../shared/data)."),
        show: int = typer.Option(20, "--show", help="How many unparseable golds to print per split (all are counted)."),
        report_file: Optional[Path] = typer.Option(None, "--report", help="Write every unparseable gold as JSON lines to this file."),
    ) -> None:
        """Load benchmarks, check hashes, counts and images, and parse every gold answer."""
        from rich.console import Console

        from sophia_eval.bench.loading import DataError, load_split, resolve_data_dir, split_available
        from sophia_eval.harness.progress import Progress
        from sophia_eval.bench.registry import get_benchmark, list_benchmarks, parse_ref

        import sys

        console = Console(width=None if sys.stdout.isatty() else 160, soft_wrap=not sys.stdout.isatty())
        try:
            root = resolve_data_dir(data_dir)
        except DataError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2)
        explicit = bool(names)
        targets: list[tuple[Any, str]] = []
        try:
            if names:
                for ref in names:
                    name, split = parse_ref(ref)
                    spec = get_benchmark(name)
                    targets += [(spec, s) for s in ([split] if split else list(spec.splits))]
            else:
                targets = [(spec, s) for spec in list_benchmarks() for s in spec.splits]
        except (KeyError, ValueError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2)

        import json

        failures = 0
        total_bad = 0
        out = report_file.open("w", encoding="utf-8") if report_file else None
        for spec, split in targets:
            label = f"{spec.name}:{split}"
            avail = split_available(spec, split, root)
            if avail == "missing":
                if explicit:
                    console.print(f"[red]FAIL[/] {label}: no local data under {root}")
                    failures += 1
                else:
                    console.print(f"[dim]skip[/] {label}: no local data under {root} (fixture-tested; see benchmarks/{spec.name}/README.md)")
                continue
            try:
                samples, report = load_split(spec, split, data_dir=root, require_images=False, allow_hub=False)
            except (DataError, KeyError) as exc:
                console.print(f"[red]FAIL[/] {label}: {exc}")
                failures += 1
                continue
            with Progress(f"checking golds of {label}", len(samples), enabled=True, unit="items") as progress:
                bad, slow = check_golds(samples, progress=progress)
            total_bad += len(bad)
            notes = []
            if report.excluded:
                notes.append(f"{len(report.excluded)} excluded by the spec: " + "; ".join(f"{k} ({v})" for k, v in report.excluded.items()))
            if report.filtered_out:
                notes.append(f"{report.filtered_out} of {report.records} records outside this split's filter")
            if report.metadata_only:
                notes.append("metadata-only copy: images not present, evaluation needs the full release")
            web = sum(1 for s in samples if any(isinstance(i, str) and i.startswith("http") for i in s.images))
            if web:
                notes.append(f"{web} items need figures that are web URLs (not usable offline)")
            if report.unpinned:
                notes.append(f"unpinned files: {', '.join(report.unpinned)}")
            status = "[green]ok[/]" if not bad else "[red]FAIL[/]"
            # the source's own count (as data READMEs give it) = loaded + declared exclusions
            in_source = f"; {len(samples) + len(report.excluded)} in the source, {len(report.excluded)} excluded" \
                if report.excluded else ""
            console.print(f"{status} {label}: {len(samples)} items (expected {spec.split(split).n_items}{in_source}), "
                          f"{len(bad)} unparseable golds, data sha256 {report.data_hash[:12]}")
            if slow:  # a busy machine, not a bad gold: reported, not failed
                notes.append(f"{len(slow)} gold checks timed out even at {GOLD_RETRY_BUDGETS[-1]:.0f} s "
                             "(not counted as unparseable): " + "; ".join(f"id={x.id}" for x, _ in slow[:show]))
            for n in notes:
                console.print(f"     {n}")
            for s, reason in bad[:show]:
                console.print(f"     {s.source} id={s.id} gold={s.answer!r} type={s.answer_type}: {reason}")
            if len(bad) > show:
                console.print(f"     ... and {len(bad) - show} more")
            for s, reason in bad if out else ():
                out.write(json.dumps({"benchmark": spec.name, "split": split, "id": s.id, "source": s.source,
                                      "gold": s.answer, "answer_type": s.answer_type, "unit": s.unit,
                                      "reason": reason}, ensure_ascii=False) + "\n")
            if bad:
                failures += 1
        if out:
            out.close()
        console.print(f"{len(targets)} splits, {failures} failed, {total_bad} unparseable golds")
        if failures:
            raise typer.Exit(1)
