"""`sophia-eval run` (evaluate a model; no model = the embedded demo) and `sophia-eval merge`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from sophia_eval.backends import BACKENDS
from sophia_eval.verify.vocab import SCORED_STATUSES

# The embedded default (issue 4, "main job"): a real 135M text model that loads offline. On MATH-500
# it scored 0 of 16 short integer-answer items in each of two probes (128 and 160 new tokens: it rarely
# ends with a parsable answer), so the demo uses MathVerse's Text-Only version, multiple choice, where it answers in a
# few tokens and is sometimes right (4 of these 24 in our probe; chance is about 25%). The slice is
# fixed by a rule, not by results: the first 24 items with options and a question under 260 chars.
DEMO_BENCHMARK = "mathverse:testmini_text_only"
DEMO_ITEMS: tuple[str, ...] = tuple(str(i) for i in range(1, 26) if i != 15)
DEMO_SLICE = "24 multiple-choice items (the first with options and a question under 260 characters; chance ~25%)"
DEMO_MAX_NEW_TOKENS = 96

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, FileNotFoundError, NotADirectoryError, PermissionError)


def fail(exc: BaseException) -> "typer.Exit":
    """Print a one-line error (no traceback) and return the exit to raise."""
    from rich.console import Console
    from rich.markup import escape

    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    # Escaped: messages carry brackets that are not markup (`pip install 'sophia-eval[vllm]'`).
    Console(stderr=True).print(f"[bold red]error:[/] {escape(msg)}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(2)


def known_errors() -> tuple[type[BaseException], ...]:
    from sophia_eval.backends.base import BackendError
    from sophia_eval.harness.runner import HarnessError
    from sophia_eval.runs.store import RunStoreError

    return (BackendError, HarnessError, RunStoreError, *USER_ERRORS)


def parse_options(items: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values parsed as JSON when they parse (numbers, true/false), else text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"backend option {item!r}: expected key=value, e.g. dtype=float32")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run_label(meta: dict[str, Any]) -> str:
    """`name:split` of a stored run, as `run -b` names it."""
    bench = meta["config"]["benchmark"]
    return f"{bench['name']}:{bench['split']}" if bench.get("split") else bench["name"]


def results_table(rows: list[tuple[str, Path, dict[str, Any]]]) -> Any:
    """Results as a rich table (run directories are printed after it, unwrapped)."""
    from rich.table import Table

    table = Table(title="sophia-eval results (values in %, 95% CI)")
    for col in ("benchmark", "items", "samples", "pass@1 [CI]", "other metrics", "unscored", "truncated"):
        table.add_column(col, overflow="fold")
    for name, path, s in rows:
        m = s["metrics"]
        p1 = m.get("pass@1") or {}
        head = "-" if p1.get("value") is None else f"{p1['value']:.1f}"
        if p1.get("ci_low") is not None:
            head += f" [{p1['ci_low']:.1f}, {p1['ci_high']:.1f}]"
        more = ", ".join(f"{k} {v['value']:.1f}" for k, v in m.items() if k != "pass@1" and v.get("value") is not None)
        counts = s["status_counts"]
        unscored = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in SCORED_STATUSES)
        trunc = "-" if s.get("truncation_rate") is None else f"{100 * s['truncation_rate']:.1f}%"
        table.add_row(name, str(s["n_items"]), str(s["n_samples"]), head, more or "-", unscored or "0", trunc)
    return table


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Model id or local path (served name for --backend openai). Omitted: the embedded demo."),
        benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="NAME[:SPLIT][,NAME...]"),
        backend: str = typer.Option("transformers", help=f"{' | '.join(BACKENDS)} (lmms: the lmms-eval wrapper, -o model_args=pretrained=PATH)"),
        protocol: Optional[str] = typer.Option(None, help="Preset: sophia (default) | sophia_model | greedy (demo default)"),
        limit: Optional[int] = typer.Option(None, help="Only the first N items"),
        n: Optional[int] = typer.Option(None, "--n", help="Samples per item"),
        temperature: Optional[float] = typer.Option(None),
        top_p: Optional[float] = typer.Option(None, "--top-p"),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens"),
        seed: Optional[int] = typer.Option(None),
        system_prompt: Optional[str] = typer.Option(None, "--system-prompt", help="Name in prompts.SYSTEM_PROMPTS"),
        no_hint: bool = typer.Option(False, "--no-hint", help="Do not prepend the benchmark hint"),
        template: Optional[str] = typer.Option(None, "--template", help="Prompt template name"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Benchmark data root (else $SOPHIA_EVAL_DATA, else ../shared/data)"),
        out: Optional[str] = typer.Option(None, "--out", help="Run directory (several benchmarks: parent directory)"),
        batch_size: int = typer.Option(8, "--batch-size"),
        shard: Optional[str] = typer.Option(None, "--shard", help="I/N: this process evaluates every N-th item from I"),
        base_url: Optional[str] = typer.Option(None, "--base-url", help="openai backend: server URL, e.g. http://localhost:8000/v1"),
        option: list[str] = typer.Option([], "--option", "-o", help="Backend option key=value (repeatable)"),
        judge_url: Optional[str] = typer.Option(None, "--judge-url", help="OpenAI-compatible endpoint of the LLM judge"),
        judge_model: Optional[str] = typer.Option(None, "--judge-model"),
        verify_workers: Optional[int] = typer.Option(None, "--verify-workers"),
        threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads (demo default: 1)"),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Evaluate a model on benchmarks: generate, verify, score; resumable (rerun to resume)."""
        params = dict(locals())
        from rich.console import Console

        console = Console()
        try:
            rows = _run(console, **params)
        except known_errors() as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]: records so far are kept; rerun the same command to resume")
            raise typer.Exit(130) from None
        console.print(results_table(rows))
        for name, path, _ in rows:
            console.print(f"run written to [bold]{path}[/] ({name}); re-score with: sophia-eval score {path}")

    @app.command("merge")
    def merge(
        shards: list[Path] = typer.Argument(..., help="Run directories of --shard 0/N ... N-1/N"),
        out: Path = typer.Option(..., "--out", help="Merged run directory"),
    ) -> None:
        """Combine shard runs into one run with one summary (checks missing/duplicate items)."""
        from rich.console import Console

        from sophia_eval.harness.shards import merge as merge_runs
        from sophia_eval.runs.store import RunStore

        try:
            path = merge_runs(shards, out)
        except known_errors() as exc:
            raise fail(exc) from None
        meta = RunStore.open(path).meta
        Console().print(results_table([(run_label(meta), path, meta["summary"])]))
        Console().print(f"merged {len(shards)} shards into [bold]{path}[/]")


def _run(console: Any, *, model: str | None, benchmark: str | None, backend: str, protocol: str | None, limit: int | None,
         n: int | None, temperature: float | None, top_p: float | None, max_new_tokens: int | None,
         seed: int | None, system_prompt: str | None, no_hint: bool, template: str | None, data_dir: str | None,
         out: str | None, batch_size: int, shard: str | None, base_url: str | None, option: list[str],
         judge_url: str | None, judge_model: str | None, verify_workers: int | None, threads: int | None,
         progress: bool) -> list[tuple[str, Path, dict[str, Any]]]:
    from sophia_eval.harness import runner as harness
    from sophia_eval.harness.protocols import get_protocol
    from sophia_eval.runs.store import RunStore

    options = parse_options(option)
    if base_url:
        options["base_url"] = base_url
    item_ids = None
    if model is None:
        from sophia_eval.backends.demo import DEMO_LABEL, demo_model_path

        model, backend = str(demo_model_path()), "transformers"
        benchmark = benchmark or DEMO_BENCHMARK
        if benchmark == DEMO_BENCHMARK and limit is None and DEMO_ITEMS:
            item_ids = DEMO_ITEMS
        elif limit is None:
            limit = 10  # the demo model on another benchmark: a small slice, never a full run
        protocol = protocol or "greedy"
        max_new_tokens = max_new_tokens or DEMO_MAX_NEW_TOKENS
        # Decoding a 135M model is small matmuls: on 2 shared cores, 2 torch threads measured ~15x
        # slower than 1 (thread hand-offs under contention), so the demo pins one thread.
        threads = threads or 1
        slice_text = DEMO_SLICE if item_ids else f"first {limit} items"
        console.print(
            f"[bold yellow]Demo run[/] (no --model given): {DEMO_LABEL}\n"
            f"  benchmark {benchmark} ({slice_text}), {protocol} decoding, max {max_new_tokens} new tokens, "
            "transformers backend on CPU. A 135M text model: expect low scores; this shows the "
            "pipeline end to end. Pass --model/--benchmark to evaluate a real model.",
            highlight=False,
        )
    elif not benchmark:
        raise ValueError("--benchmark is required with --model (e.g. --benchmark mathvision:testmini)")
    proto = get_protocol(
        protocol or "sophia", n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed,
        system_prompt=system_prompt, use_hint=False if no_hint else None, prompt_template=template,
    )
    judge = None
    if judge_url or judge_model:
        from sophia_eval.harness.judge import JudgeConfig

        if not (judge_url and judge_model):
            raise ValueError("an LLM judge needs both --judge-url and --judge-model")
        judge = JudgeConfig(base_url=judge_url, model=judge_model)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    refs = [b.strip() for b in benchmark.split(",") if b.strip()]
    loaded: list[Any] = []

    def load_model() -> Any:  # once for all benchmarks, and only if something is left to generate
        if not loaded:
            from sophia_eval.backends import make_generator

            with console.status(f"loading {model} ({backend})"):
                loaded.append(make_generator(backend, model, **options))
        return loaded[0]

    rows = []
    for ref in refs:
        bench = harness.benchmark_info(ref)
        samples, bench = harness.load_benchmark(bench, data_dir=data_dir, limit=limit)  # data errors before model load
        target = out if len(refs) == 1 else None
        config = harness.RunConfig(
            benchmark=ref, model=model, backend=backend, protocol=proto, backend_options=options, limit=limit,
            item_ids=item_ids, data_dir=data_dir, out=target, batch_size=batch_size,
            shard=harness.parse_shard(shard) if shard else None, verify_workers=verify_workers, judge=judge,
        )
        if out and len(refs) > 1:
            cfg = harness.run_config_record(config, bench)
            config = harness.RunConfig(**{**config.__dict__, "out": str(Path(out) / harness.default_out(config, bench, cfg).name)})
        if judge is None and bench.judge == "required":
            console.print(f"[yellow]note:[/] {bench.name}'s official protocol uses an LLM judge; none configured "
                          "(--judge-url/--judge-model), so it is scored by rules only.")
        path = harness.run(config, samples=samples, bench=bench, progress=progress, generator_factory=load_model)
        rows.append((ref, path, RunStore.open(path).meta["summary"]))
    return rows
