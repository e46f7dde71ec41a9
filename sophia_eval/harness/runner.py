"""`run(config) -> run dir`: samples -> prompts -> generator (batched) -> verify -> records -> summary.

Generation and scoring meet at the record: every batch is verified with one warm `VerifierPool`
and appended to `samples.jsonl` through `RunStore` before the next batch starts, so a crash loses
at most the batch in flight. Re-running the same config resumes: (item, sample) pairs already
recorded are skipped; pairs whose only record is a backend `error` are generated again (the
newest record wins and the file is compacted when the run completes, so it never holds
duplicates). Each record carries its gold answer and verifier metadata, so re-scoring
(`rescore`) and leaderboards read only the run directory.

Reproducible resume: backends draw samples by position in a generate call (one random stream
per batch, or seed + index), so batches are fixed chunks of the run's item order (chunk k is
items [k*B, (k+1)*B), B = the `batch_size` the run started with, kept as `chunk_size` in
run.json) and chunk k is generated with seed `protocol.seed + k*B*n`. A chunk with anything
missing (a kill mid-append, a retried error) is generated again whole with the same seed and only
its missing (item, sample) pairs are appended, so a resumed or retried run records what an
uninterrupted one does. Limits: this holds only where the backend is deterministic for a fixed
seed and batch (GPU kernels and vLLM batching may not be bit-exact; servers may ignore `seed`);
shards are chunked within each shard, so a sampled sharded run differs from an unsharded one;
and a retry regenerates the whole chunk (B prompts x n samples) to recover one failed prompt.

Backend failures never become wrong answers: a failed prompt is recorded with status `error`
(correct = null) and counted in the summary; if `max_consecutive_failures` batches fail in a row
the run stops with `HarnessError` (records kept; rerun to resume).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sophia_eval._version import package_version
from sophia_eval.backends import make_generator
from sophia_eval.backends.base import Completion, GenerationConfig, Generator
from sophia_eval.bench import prompts
from sophia_eval.bench.loading import DataError, resolve_data_dir
from sophia_eval.bench.sample import Sample
from sophia_eval.harness.config import (
    BenchmarkInfo, HarnessError, RunConfig, benchmark_info, default_out, load_benchmark, model_slug,
    run_config_record, runtime_options, select_items,
)
from sophia_eval.harness.judge import Judge
from sophia_eval.harness.progress import Progress
from sophia_eval.runs.records import SampleRecord, verify_request
from sophia_eval.runs.lock import run_lock
from sophia_eval.runs.store import RunStore, config_hash
from sophia_eval.scoring import metrics
from sophia_eval.verify import VERIFIER_VERSION, VerifierPool
from sophia_eval.verify.vocab import SCORED_STATUSES

TIMING_FIELDS = ("latency_s", "verify_elapsed_s")
"""Record fields that measure time; they differ between otherwise identical runs."""


# -- records ----------------------------------------------------------------------------------


def base_record(sample: Sample, index: int, prompt_hash: str, comp: Completion, policy: str | None,
                prompt: list[dict[str, Any]] | None = None) -> SampleRecord:
    kwargs = sample.verify_kwargs()
    if kwargs.get("policy") is None:
        kwargs["policy"] = policy
    return {
        "item_id": sample.id,
        "sample_index": index,
        "prompt_hash": prompt_hash,
        "prompt": prompt,
        "response": comp.text,
        "finish_reason": comp.finish_reason,
        "prompt_tokens": comp.prompt_tokens,
        "completion_tokens": comp.completion_tokens,
        "latency_s": comp.latency_s,
        "error": comp.error,
        "gold": sample.answer,
        "verify_kwargs": kwargs,
        "categories": dict(sample.categories),
    }


def score_records(records: list[dict[str, Any]], pool: Any, judge: Any = None) -> list[dict[str, Any]]:
    """Fill verdict fields of `records` in place; backend errors are marked, never verified."""
    todo = []
    for r in records:
        if r.get("finish_reason") == "error" or r.get("error") is not None:
            r.update(extracted=None, status="error", correct=None, method="backend",
                     reason=str(r.get("error") or "backend error"), verifier_version=None)
        elif r.get("gold") is None:
            r.update(extracted=None, status="bad_gold", correct=None, method="record",
                     reason="record has no gold answer", verifier_version=None)
        else:
            todo.append(r)
    if todo:
        try:
            verdicts: list[Any] = list(pool.verify_many([verify_request(r) for r in todo]))
        except Exception:  # noqa: BLE001 - one odd record must not stop a run: find it, record its error
            verdicts = [_verify_one(pool, r) for r in todo]
        for r, v in zip(todo, verdicts):
            if isinstance(v, Exception):
                r.update(extracted=None, status="error", correct=None, method="scoring",
                         reason=f"scoring failed: {type(v).__name__}: {v}", verifier_version=None)
                continue
            scored = v.status in SCORED_STATUSES
            r.update(extracted=v.extracted, status=v.status, correct=v.correct if scored else None,
                     method=v.method, reason=v.reason, verifier_version=v.verifier_version,
                     verify_elapsed_s=v.elapsed_s)
    if judge is not None:
        judge.apply(records, pool)
    return records


def _verify_one(pool: Any, record: Mapping[str, Any]) -> Any:
    """One record's verdict, or the exception scoring it raised."""
    try:
        return pool.verify_many([verify_request(record)])[0]
    except Exception as exc:  # noqa: BLE001 - recorded on the record by the caller
        return exc


def latest_records(store: RunStore) -> dict[tuple[str, int], dict[str, Any]]:
    """One record per (item, sample): the newest (a retried error is superseded)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in store.records():
        out[(str(r["item_id"]), int(r["sample_index"]))] = r
    return out


def summarize_run(records: Sequence[Mapping[str, Any]], bench_meta: Mapping[str, Any]) -> dict[str, Any]:
    return metrics.summarize(
        records,
        metric=bench_meta.get("metric", "accuracy"),
        breakdown=bench_meta.get("breakdown", ()),
    )


# -- the run ------------------------------------------------------------------------------------


def run(
    config: RunConfig,
    *,
    generator: Generator | None = None,
    samples: Sequence[Sample] | None = None,
    bench: BenchmarkInfo | None = None,
    progress: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
    generator_factory: Callable[[], Generator] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Path:
    """Evaluate `config.model` on `config.benchmark`; return the run directory.

    `generator`, `samples` and `bench` may be injected (tests, SOPHIA sampling, custom data);
    otherwise they come from `make_generator`, `load_samples` and the registry. With
    `generator_factory`, the model is loaded only if something is left to generate (a finished
    run re-summarises without loading it). `notify` receives one-line messages (resuming).

    The run directory is locked for the whole run (`runs.lock`). An interruption (Ctrl-C, SIGTERM
    turned into KeyboardInterrupt by the CLI) marks the run `interrupted`, any other exception
    `failed` with its error; a run whose every sample is a backend error ends `failed` too.
    """
    bench = bench or benchmark_info(config.benchmark)
    if samples is None:
        samples, bench = load_benchmark(bench, data_dir=config.data_dir, limit=config.limit)
    elif config.limit is not None:
        samples = list(samples)[: config.limit]
    if not samples:
        raise HarnessError(f"{config.benchmark}: no items loaded (check --data-dir, --limit and the split)")
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise HarnessError(f"{config.benchmark}: item id {dup!r} occurs more than once in the loaded data")
    chosen = select_items(samples, config)
    cfg = run_config_record(config, bench)
    out = Path(config.out) if config.out else default_out(config, bench, cfg)
    p = config.protocol
    template = cfg["prompt_template"]
    conversations = [
        prompts.build_messages(s, template=template, system_prompt=p.system_prompt, use_hint=p.use_hint)
        for s in chosen
    ]
    hashes = [prompts.prompt_hash(c) for c in conversations]

    # The lock comes first: a second writer is refused before it loads a model.
    with run_lock(out, "run"):
        _scrub_legacy_options(out, cfg, config.backend_options)
        if generator is None and _all_recorded(out, cfg, [s.id for s in chosen], p.n):
            return _finish(RunStore.open(out))
        if generator is None:
            if generator_factory is None:
                generator = make_generator(config.backend, config.model, **dict(config.backend_options))
            else:
                generator = generator_factory()
        model_info = _describe(generator)
        _check_images_supported(model_info, chosen, config)
        meta = {
            "config": cfg,
            "name": config.name,
            "model_path": _local_path(config.model),
            "runtime_options": runtime_options(config.backend_options),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sophia_eval_version": package_version(),
            "git_sha": _git_sha(),
            "verifier_version": VERIFIER_VERSION,
            "model_info": model_info,
            "benchmark_meta": {"metric": bench.metric, "breakdown": list(bench.breakdown), "judge": bench.judge},
            "expected_items": [s.id for s in chosen],
            "chunk_size": config.batch_size,
            "status": "running",
        }
        store = RunStore.create_or_resume(out, meta)
        store.update_meta(status="running", error=None, name=config.name, model_info=model_info,
                          runtime_options=meta["runtime_options"])
        try:
            _generate_missing(store, config, bench, generator, chosen, conversations, hashes, progress, on_batch, notify)
        except BaseException as exc:
            interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
            store.update_meta(status="interrupted" if interrupted else "failed",
                              error=None if interrupted else f"{type(exc).__name__}: {exc}")
            raise
        finalize(store)
    return out


def _generate_missing(store: RunStore, config: RunConfig, bench: BenchmarkInfo, generator: Generator,
                      chosen: Sequence[Sample], conversations: Sequence[Any], hashes: Sequence[str],
                      progress: bool, on_batch: Callable[[int, int], None] | None,
                      notify: Callable[[str], None] | None) -> None:
    """Generate, verify and append every (item, sample) not yet recorded, chunk by chunk."""
    out, p = store.path, config.protocol
    gen_cfg = p.generation_config()
    # A resumed run keeps its chunks: a new batch size would change every later prompt's samples.
    chunk = int(store.meta.get("chunk_size") or config.batch_size)
    store.update_meta(chunk_size=chunk)
    existing = latest_records(store)
    done = {k for k, r in existing.items() if r.get("status") != "error"}
    current = {s.id: h for s, h in zip(chosen, hashes)}
    changed = [k[0] for k in done if existing[k].get("prompt_hash") not in (None, current.get(k[0]))]
    if changed:  # same config but different prompts (e.g. a template's code changed): not one run
        raise HarnessError(
            f"{out}: the prompt of item {changed[0]} (and {len(changed) - 1} more) differs from the one "
            "recorded; the prompt code changed since this run started: use a new --out directory"
        )
    wanted = [[j for j in range(p.n) if (s.id, j) not in done] for s in chosen]
    total = sum(len(w) for w in wanted)
    if done and notify is not None:
        notify(f"resuming: {len(done)} of {len(chosen) * p.n} samples already recorded in {out}; "
               f"generating the other {total}")
    starts = [a for a in range(0, len(chosen), chunk) if any(wanted[a : a + chunk])]
    judge = _make_judge(config, bench)
    root = _data_root(config.data_dir)
    with VerifierPool(config.verify_workers, config.verify_timeout) as pool, Progress(
        f"{bench.name} · {model_slug(config.name or config.model)}", total, enabled=progress
    ) as bar:
        failures = 0
        for start in starts:
            idx = range(start, min(start + chunk, len(chosen)))
            # The whole chunk, recorded items included: a prompt's samples depend on its batch.
            comps, failed = _generate(generator, [conversations[i] for i in idx], chunk_config(gen_cfg, start))
            failures = failures + 1 if failed else 0
            records = []
            for i, outs in zip(idx, comps):
                shown = prompts.prompt_for_record(conversations[i], root) if wanted[i] else None
                records += [base_record(chosen[i], j, hashes[i], outs[j], bench.extraction, shown) for j in wanted[i]]
            store.append(score_records(records, pool, judge))
            bar.advance(len(records), sum(r.get("completion_tokens") or 0 for r in records))
            if on_batch is not None:
                on_batch(start // chunk, len(records))
            if failures >= config.max_consecutive_failures:
                raise HarnessError(
                    f"backend {config.backend} failed on {failures} batches in a row (last error: "
                    f"{records[-1].get('error')}); records so far are kept in {out}: fix the backend "
                    "and rerun the same command to resume"
                )


def _scrub_legacy_options(out: Path, cfg: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """A run started before operational options and secrets left the config (they were stored and
    hashed): when its hash is that of this config with every option, rewrite its config without
    them, so it resumes and no longer holds the key."""
    store = RunStore(out)
    if not store.run_file.exists():
        return
    legacy = {**cfg, "model": {**cfg["model"], "options": dict(options)}}
    stored = store.meta.get("config_hash")
    if stored != config_hash(cfg) and stored == config_hash(legacy):
        store.update_meta(config=dict(cfg), config_hash=config_hash(cfg))


def _check_images_supported(model_info: Mapping[str, Any], chosen: Sequence[Sample], config: RunConfig) -> None:
    """Refuse a text-only model on items with images before anything is generated."""
    with_images = sum(1 for s in chosen if s.images)
    if model_info.get("vision") is False and with_images:
        raise HarnessError(
            f"{config.model} is a text-only model (no image processor) but {with_images} of the {len(chosen)} "
            f"{config.benchmark} items have images; evaluate a vision-language model, or a text-only split "
            "such as mathverse:testmini_text_only or math500"
        )


def _local_path(model: str) -> str | None:
    """The resolved path of a local model (tells apart two checkpoints both named `final`)."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else None


def _data_root(data_dir: str | None) -> str | None:
    try:
        return str(resolve_data_dir(data_dir))
    except DataError:  # injected samples need no data root; image paths are then stored by name
        return None


def chunk_config(cfg: GenerationConfig, start: int) -> GenerationConfig:
    """Decoding settings of the chunk starting at item `start`: its own seed, fixed by its place in
    the run (per-prompt backends then seed prompt i with seed + start*n + i; openai sample k of
    prompt i with seed + (start + i)*n + k, as if the run were one call)."""
    return cfg if cfg.seed is None else replace(cfg, seed=cfg.seed + start * cfg.n)


def _all_recorded(out: Path, cfg: Mapping[str, Any], items: Sequence[str], n: int) -> bool:
    """True when `out` holds this config's run with a non-error record for every (item, sample)."""
    store = RunStore(out)
    if not store.run_file.exists() or store.meta.get("config_hash") != config_hash(cfg):
        return False
    done = {k for k, r in latest_records(store).items() if r.get("status") != "error"}
    return all((i, j) in done for i in items for j in range(n))


def _finish(store: RunStore) -> Path:
    finalize(store)
    return store.path


def finalize(store: RunStore) -> dict[str, Any]:
    """Compact records (newest per key, expected order), summarise, mark complete if nothing is missing."""
    meta = store.meta
    on_disk = list(store.records())
    latest = {(str(r["item_id"]), int(r["sample_index"])): r for r in on_disk}
    order = {item: pos for pos, item in enumerate(meta.get("expected_items") or [])}
    records = sorted(latest.values(), key=lambda r: (order.get(str(r["item_id"]), len(order)), int(r["sample_index"])))
    if [id(r) for r in records] != [id(r) for r in on_disk]:  # duplicates superseded or out of order
        store.replace_records(records)
    summary = summarize_run(records, meta.get("benchmark_meta") or {})
    n = int((meta.get("config") or {}).get("generation", {}).get("n", 1))
    missing = [i for i in order for j in range(n) if (i, j) not in latest]
    store.update_meta(summary=summary, status=run_status(records, missing, meta.get("status")))
    return summary


def run_status(records: Sequence[Mapping[str, Any]], missing: Sequence[Any], previous: str | None) -> str:
    """`failed` when every record is an error; else `complete` when nothing is missing; else the
    previous unfinished status (`interrupted`, `failed`) or `running`."""
    if records and all(r.get("status") == "error" for r in records):
        return "failed"
    if not missing:
        return "complete"
    return previous if previous in ("interrupted", "failed") else "running"


def rescore(
    run_dir: str | Path, *, workers: int | None = None, timeout: float = 2.0, judge: Any = None,
    chunk: int = 1024, progress: bool = True,
) -> dict[str, Any]:
    """Re-verify every record of a run with the current verifier (and judge); rewrite and re-summarise."""
    store = RunStore.open(run_dir)
    with run_lock(store.path, "score"):
        records = list(latest_records(store).values())
        with VerifierPool(workers, timeout) as pool, Progress(f"re-scoring {Path(run_dir).name}", len(records), enabled=progress) as bar:
            for start in range(0, len(records), chunk):
                part = records[start : start + chunk]
                score_records(part, pool, judge)
                bar.advance(len(part), 0)
        store.replace_records(records)
        store.update_meta(verifier_version=VERIFIER_VERSION, rescored_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        return finalize(store)


def _generate(generator: Generator, convs: list[Any], cfg: GenerationConfig) -> tuple[list[list[Completion]], bool]:
    """Generate a batch; an exception becomes `error` completions for the whole batch."""
    try:
        outs = generator.generate(convs, cfg)
        if len(outs) != len(convs) or any(len(o) != cfg.n for o in outs):
            raise RuntimeError(f"backend returned {[len(o) for o in outs]} completions for {len(convs)} prompts x n={cfg.n}")
        return outs, all(c.finish_reason == "error" for o in outs for c in o)
    except Exception as exc:  # noqa: BLE001 - any backend failure is recorded, never scored
        err = f"{type(exc).__name__}: {exc}"
        return [[Completion(text="", finish_reason="error", error=err) for _ in range(cfg.n)] for _ in convs], True


def _make_judge(config: RunConfig, bench: BenchmarkInfo) -> Any:
    if config.judge is None:
        return None
    return Judge(config.judge, required=bench.judge == "required")


def _describe(generator: Generator) -> dict[str, Any]:
    try:
        return dict(generator.describe())
    except Exception as exc:  # noqa: BLE001 - provenance must not stop a run
        return {"describe_error": str(exc)}


def _git_sha() -> str | None:
    """Commit of the sophia-eval source tree, or None (installed wheel, or not a git checkout)."""
    import subprocess

    here = Path(__file__).resolve()
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=here.parent, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        if not top or here.relative_to(Path(top).resolve()).as_posix() != "sophia_eval/harness/runner.py":
            return None  # e.g. a venv inside some other repository: that repo's sha is not ours
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=top, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
