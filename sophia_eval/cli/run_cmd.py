"""`sophia-eval run` (evaluate a model; no model = the embedded demo) and `sophia-eval merge`."""

from __future__ import annotations

import json
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

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


def make_console(stderr: bool = False) -> Any:
    """A console that never turns user text into emoji (`file:100:`); markup in user-provided
    names is escaped with `esc` where it is printed."""
    from rich.console import Console

    return Console(stderr=stderr, emoji=False, soft_wrap=True)


def esc(text: Any) -> str:
    """User-provided text (model names, paths, error messages) made safe for console markup."""
    from rich.markup import escape

    return escape(str(text))


def fail(exc: BaseException) -> "typer.Exit":
    """Print a one-line error (no traceback) and return the exit to raise."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    make_console(stderr=True).print(f"[bold red]error:[/] {esc(msg)}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(2)


STATUS_EXIT = {"failed": 1}
"""Exit code of `run`/`score` by the run's final status (others: 0)."""


def report_status(console: Any, path: Path, meta: dict[str, Any]) -> int:
    """Explain a run that did not end `complete`; the exit code its status calls for."""
    from sophia_eval.runs.reading import status_advice

    status = meta.get("status") or "running"
    if status != "complete":
        colour = "red" if status == "failed" else "yellow"
        console.print(f"[{colour}]{status}[/]: {esc(path)}: {esc(status_advice(status, meta))}", highlight=False)
    return STATUS_EXIT.get(status, 0)


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

    table = Table(title="sophia-eval results (values in %, 95% CI)", highlight=False)
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
        table.add_row(esc(name), str(s["n_items"]), str(s["n_samples"]), head, more or "-", unscored or "0", trunc)
    return table


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(  # noqa: PLR0913 - one parameter per CLI option
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Model id or local path (served name for --backend openai). Omitted: the embedded demo."),
        name: Optional[str] = typer.Option(None, "--name", help="Name on leaderboards and in the default run directory (default: from the model path; two checkpoints both called 'final' stay apart)"),
        benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", "--tasks", help="NAME[:SPLIT][,NAME...]; lmms-eval task names (mathvision_testmini, ...) are mapped, with a note"),
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
        out: Optional[str] = typer.Option(None, "--out", "--output_path", help="Run directory (several benchmarks: parent directory)"),
        batch_size: int = typer.Option(8, "--batch-size", help="Items per generate call and per resume chunk "
                                       "(kept when a run resumes); the transformers backend decodes -o batch_size "
                                       "prompts at a time within it (default 8)"),
        shard: Optional[str] = typer.Option(None, "--shard", help="I/N: this process evaluates every N-th item from I"),
        base_url: Optional[str] = typer.Option(None, "--base-url", help="openai backend: server URL, e.g. http://localhost:8000/v1"),
        option: list[str] = typer.Option([], "--option", "-o", help="Backend option key=value (repeatable)"),
        judge_url: Optional[str] = typer.Option(None, "--judge-url", help="OpenAI-compatible endpoint of the LLM judge"),
        judge_model: Optional[str] = typer.Option(None, "--judge-model"),
        verify_workers: Optional[int] = typer.Option(None, "--verify-workers"),
        threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads (demo default: 1)"),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
        model_args: Optional[str] = typer.Option(None, "--model_args", hidden=True),
        log_samples: bool = typer.Option(False, "--log_samples", hidden=True),
    ) -> None:
        """Evaluate a model on benchmarks: generate, verify, score; resumable (rerun to resume)."""
        params = dict(locals())
        from sophia_eval.runs.store import RunStore

        console = make_console()
        try:
            with sigterm_as_interrupt() as received:
                rows = _run(console, **params)
        except known_errors() as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:
            what = "terminated (SIGTERM)" if received else "interrupted"
            console.print(f"[yellow]{what}[/]: the run is marked interrupted and records so far are kept; "
                          "rerun the same command to resume")
            raise typer.Exit(143 if received else 130) from None
        console.print(results_table([(n, p, RunStore.open(p).meta["summary"]) for n, p in rows]))
        code = 0
        for name, path in rows:
            console.print(f"run written to [bold]{esc(path)}[/] ({esc(name)}); re-score with: sophia-eval score {esc(path)}",
                          highlight=False)
            code = max(code, report_status(console, path, RunStore.open(path).meta))
        if code:
            raise typer.Exit(code)

    @app.command("merge")
    def merge(
        shards: list[Path] = typer.Argument(..., help="Run directories of --shard 0/N ... N-1/N"),
        out: Path = typer.Option(..., "--out", help="Merged run directory"),
    ) -> None:
        """Combine shard runs into one run with one summary (checks missing/duplicate items)."""
        from sophia_eval.harness.shards import merge as merge_runs
        from sophia_eval.runs.store import RunStore

        try:
            path = merge_runs(shards, out)
        except known_errors() as exc:
            raise fail(exc) from None
        meta = RunStore.open(path).meta
        console = make_console()
        console.print(results_table([(run_label(meta), path, meta["summary"])]))
        console.print(f"merged {len(shards)} shards into [bold]{esc(path)}[/]", highlight=False)


@contextmanager
def sigterm_as_interrupt() -> Iterator[list[int]]:
    """Within the block, SIGTERM (a scheduler's stop, `kill`) raises KeyboardInterrupt like Ctrl-C,
    so the run is marked `interrupted` and its records are kept. Yields a list that holds the
    signal number once one was received."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


SAMPLED_LONG_TOKENS = 8192
"""A sampled protocol with at least this many new tokens is the paper's full setting: slow."""


def describe_protocol(proto: Any) -> str:
    sampled = f"T={proto.temperature:g}, top_p={proto.top_p:g}" if proto.temperature > 0 else "greedy"
    return (f"protocol {proto.name}: n={proto.n}, {sampled}, max {proto.max_new_tokens} new tokens, seed {proto.seed}, "
            f"system prompt {proto.system_prompt or 'none'}")


def limit_warning(proto: Any, limit: int | None) -> str | None:
    """The warning for an ad-hoc `--limit` run under a sampled long-output protocol."""
    if limit is None or proto.temperature <= 0 or proto.max_new_tokens < SAMPLED_LONG_TOKENS:
        return None
    return (f"--limit {limit} with protocol {proto.name} samples at T={proto.temperature:g} with up to "
            f"{proto.max_new_tokens} new tokens per sample (the paper's full setting: minutes per item on CPU). "
            "For a quick check use --protocol greedy --max-new-tokens 512.")


def batch_warning(backend: str, batch_size: int, options: dict[str, Any]) -> str | None:
    """`--batch-size` sizes the harness's calls; the transformers backend splits each call into its
    own batches (`-o batch_size`, default 8): a large --batch-size alone decodes 8 at a time."""
    if backend != "transformers":
        return None
    from sophia_eval.backends.transformers_backend import TransformersOptions

    inner = options.get("batch_size", TransformersOptions.batch_size)
    if isinstance(inner, int) and batch_size > inner:
        return (f"--batch-size {batch_size} sends {batch_size} items per call, but the transformers backend decodes "
                f"{inner} prompts at a time; add -o batch_size={batch_size} to decode them together")
    return None


def lmms_hints(model: str | None, backend: str, model_args: str | None, options: dict[str, Any]) -> None:
    """lmms-eval's `--model_args`: taken as the lmms backend's option, else a pointed error."""
    if model_args is None:
        return
    if backend == "lmms":
        options["model_args"] = model_args
        return
    pretrained = dict(kv.partition("=")[::2] for kv in model_args.split(",")).get("pretrained")
    suggestion = f"--model {pretrained}" if pretrained else "--model PATH"
    raise ValueError(
        f"--model_args is lmms-eval's option; here give the model with {suggestion} and backend options with "
        "-o key=value (e.g. -o dtype=bfloat16); to go through lmms-eval's own model classes use "
        f"--backend lmms --model_args {model_args!r}"
    )


def _run(console: Any, *, model: str | None, name: str | None, benchmark: str | None, backend: str, protocol: str | None,
         limit: int | None, n: int | None, temperature: float | None, top_p: float | None, max_new_tokens: int | None,
         seed: int | None, system_prompt: str | None, no_hint: bool, template: str | None, data_dir: str | None,
         out: str | None, batch_size: int, shard: str | None, base_url: str | None, option: list[str],
         judge_url: str | None, judge_model: str | None, verify_workers: int | None, threads: int | None,
         progress: bool, model_args: str | None, log_samples: bool) -> list[tuple[str, Path]]:
    from sophia_eval.bench.lmms_tasks import resolve_task
    from sophia_eval.harness import runner as harness
    from sophia_eval.harness.config import parse_shard
    from sophia_eval.harness.protocols import get_protocol

    options = parse_options(option)
    if base_url:
        options["base_url"] = base_url
    lmms_hints(model, backend, model_args, options)
    if log_samples:
        console.print("note: --log_samples is always on here: every sample, its prompt and its verdict are in "
                      "samples.jsonl of the run directory", highlight=False)
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
            f"[bold yellow]Demo run[/] (no --model given): {esc(DEMO_LABEL)}\n"
            f"  benchmark {esc(benchmark)} ({slice_text}), {protocol} decoding, max {max_new_tokens} new tokens, "
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
    refs = []
    for raw in (b.strip() for b in benchmark.split(",") if b.strip()):
        ours, note = resolve_task(raw)
        if note:
            console.print(f"note: {esc(note)}", highlight=False)
        refs += [r for r in ours.split(",") if r not in refs]
    named = f", named {esc(name)}" if name else ""
    console.print(f"{esc(describe_protocol(proto))}; model {esc(model)} ({backend}{named})", highlight=False)
    for warning in (limit_warning(proto, limit), batch_warning(backend, batch_size, options)):
        if warning:
            console.print(f"[yellow]warning:[/] {esc(warning)}", highlight=False)
    loaded: list[Any] = []

    def load_model() -> Any:  # once for all benchmarks, and only if something is left to generate
        if not loaded:
            from sophia_eval.backends import make_generator

            with console.status(f"loading {esc(model)} ({backend})"):
                loaded.append(make_generator(backend, model, **options))
        return loaded[0]

    def notify(message: str) -> None:
        console.print(esc(message), highlight=False)

    rows = []
    for ref in refs:
        bench = harness.benchmark_info(ref)
        samples, bench = harness.load_benchmark(bench, data_dir=data_dir, limit=limit)  # data errors before model load
        target = out if len(refs) == 1 else None
        config = harness.RunConfig(
            benchmark=ref, model=model, backend=backend, protocol=proto, backend_options=options, limit=limit,
            item_ids=item_ids, data_dir=data_dir, out=target, batch_size=batch_size,
            shard=parse_shard(shard) if shard else None, verify_workers=verify_workers, judge=judge, name=name,
        )
        cfg = harness.run_config_record(config, bench)
        run_dir = harness.default_out(config, bench, cfg)
        if out and len(refs) > 1:
            config = harness.RunConfig(**{**config.__dict__, "out": str(Path(out) / run_dir.name)})
        console.print(f"{esc(ref)}: {len(samples)} items -> {esc(config.out or run_dir)}", highlight=False)
        if judge is None and bench.judge == "required":
            console.print(f"[yellow]note:[/] {esc(bench.name)}'s official protocol uses an LLM judge; none configured "
                          "(--judge-url/--judge-model), so it is scored by rules only.", highlight=False)
        path = harness.run(config, samples=samples, bench=bench, progress=progress, generator_factory=load_model,
                           notify=notify)
        rows.append((ref, path))
    return rows
