"""`sophia-eval score RUN_DIR | --import-jsonl FILE | --import-lmms FILE`: (re-)score with our verifier."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score(
        run_dir: Optional[Path] = typer.Argument(None, help="Existing run directory to re-score in place"),
        import_jsonl: Optional[Path] = typer.Option(None, "--import-jsonl", help="Predictions JSONL (id, response[, gold])"),
        import_lmms: Optional[Path] = typer.Option(None, "--import-lmms", help="lmms-eval --log_samples file"),
        benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="Take gold answers and metadata from this benchmark"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir"),
        model: Optional[str] = typer.Option(None, "--model", help="Model recorded for an import (id or path)"),
        name: Optional[str] = typer.Option(None, "--name", help="Name of an import on leaderboards (default: --model, else the log's folder)"),
        protocol: Optional[str] = typer.Option(None, "--protocol", help="Preset the imported predictions were generated under (sophia | sophia_model | greedy); recorded so the leaderboard ranks it beside that protocol"),
        id_key: Optional[str] = typer.Option(None, "--id-key", help="lmms-eval: dotted path of the item id, e.g. doc.pid"),
        out: Optional[Path] = typer.Option(None, "--out", "--output_path", help="Run directory for an import"),
        judge_url: Optional[str] = typer.Option(None, "--judge-url"),
        judge_model: Optional[str] = typer.Option(None, "--judge-model"),
        verify_workers: Optional[int] = typer.Option(None, "--verify-workers"),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Re-score a run with the current verifier, or import predictions from another harness and score them."""
        from sophia_eval.cli.run_cmd import esc, fail, known_errors, make_console, report_status, results_table, run_label
        from sophia_eval.harness.importers import ImportFormatError

        console = make_console()
        try:
            sources = [x for x in (run_dir, import_jsonl, import_lmms) if x is not None]
            if len(sources) != 1:
                raise ValueError("give exactly one of RUN_DIR, --import-jsonl FILE, --import-lmms FILE")
            if run_dir is not None and (name or protocol):
                raise ValueError("--name and --protocol describe an import; a run directory keeps the ones it was run with")
            path = run_dir or _import(import_jsonl, import_lmms, benchmark, data_dir, model, id_key, out, name, protocol)
            from sophia_eval.harness import runner as harness
            from sophia_eval.runs.store import RunStore

            judge = None
            if judge_url or judge_model:
                from sophia_eval.harness.judge import Judge, JudgeConfig

                if not (judge_url and judge_model):
                    raise ValueError("an LLM judge needs both --judge-url and --judge-model")
                bench_meta = RunStore.open(path).meta.get("benchmark_meta") or {}
                judge = Judge(JudgeConfig(base_url=judge_url, model=judge_model), required=bench_meta.get("judge") == "required")
            summary = harness.rescore(path, workers=verify_workers, judge=judge, progress=progress)
            label = run_label(RunStore.open(path).meta)
        except (*known_errors(), ImportFormatError) as exc:
            raise fail(exc) from None
        console.print(results_table([(label, Path(path), summary)]))
        console.print(f"scored records written to [bold]{esc(path)}[/]", highlight=False)
        code = report_status(console, Path(path), RunStore.open(path).meta)
        if code:
            raise typer.Exit(code)


def _import(jsonl: Path | None, lmms: Path | None, benchmark: str | None, data_dir: str | None,
            model: str | None, id_key: str | None, out: Path | None, name: str | None, protocol: str | None) -> Path:
    from sophia_eval.harness import importers
    from sophia_eval.harness.protocols import get_protocol

    preset = get_protocol(protocol) if protocol else None
    bench = samples = None
    if benchmark:
        from sophia_eval.bench.lmms_tasks import resolve_task

        benchmark, _note = resolve_task(benchmark)
        from sophia_eval.bench.loading import load_samples
        from sophia_eval.harness.runner import benchmark_info

        bench = benchmark_info(benchmark)
        samples = load_samples(bench.name, split=bench.split, data_dir=data_dir)
    if jsonl is not None:
        return importers.import_jsonl(jsonl, benchmark=bench, samples=samples, model=model or name or "imported", out=out,
                                      name=name, protocol=preset)
    return importers.import_lmms(lmms, benchmark=bench, samples=samples, model=model or name, out=out, id_key=id_key,
                                 name=name, protocol=preset)
