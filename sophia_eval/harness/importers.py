"""Predictions made elsewhere -> a run directory that `sophia-eval score` re-scores with our verifier.

Two sources:
- a plain JSONL file, one object per prediction: an item id (`id` or `item_id`), the response
  (`response`, `prediction` or `output`; or `responses`, a list of samples), optionally
  `sample_index` and the gold answer (`gold` or `answer`);
- an lmms-eval sample log (`<date>_samples_<task>.jsonl` written by `--log_samples`, one object
  per document with `doc_id`, `target`, `resps`/`filtered_resps`, metric fields; older releases
  wrote a JSON file with the same objects under `logs`, keeping `doc`).

With `benchmark`, gold answers, answer metadata and categories come from our loader (so the
import is scored exactly like a native run) and every imported id must exist in the benchmark.
Without it, each prediction must carry its gold answer and is verified with default metadata.
Imported records have no finish reason or token counts (`null`): truncation is not known.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from sophia_eval.harness.runner import BenchmarkInfo, model_slug
from sophia_eval.bench.formats import dotted_get
from sophia_eval.bench.sample import Sample
from sophia_eval.harness.protocols import Protocol
from sophia_eval.runs.lock import run_lock
from sophia_eval.runs.jsonl import object_lines
from sophia_eval.runs.store import RunStore

ID_KEYS = ("question_id", "pid", "id", "item_id", "index", "problem_id")
"""Keys searched (in `doc`, then in metric dicts) for an item id in lmms-eval logs."""


class ImportFormatError(ValueError):
    """An input file does not have the expected shape (message names file, line and field)."""


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.strip():
        try:  # a single JSON document (older lmms-eval logs: {"logs": [...]})
            obj = json.loads(text)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("logs"), list):
            for i, row in enumerate(obj["logs"]):
                yield i + 1, row
            return
    yield from object_lines(text.splitlines(), path, ImportFormatError)


def _texts(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if isinstance(value[0], list):  # lmms-eval `resps`: one list of samples per request
            value = value[0]
        if all(isinstance(v, str) for v in value):
            return list(value)
    return None


def _lmms_item_id(row: Mapping[str, Any], id_key: str | None) -> tuple[str | None, str]:
    if id_key:
        value = dotted_get(row, id_key)
        return (None if value is None else str(value)), id_key
    doc = row.get("doc")
    if isinstance(doc, Mapping):
        for key in ID_KEYS:
            if doc.get(key) is not None:
                return str(doc[key]), f"doc.{key}"
    for name, value in row.items():
        if isinstance(value, Mapping):
            for key in ID_KEYS:
                if value.get(key) is not None:
                    return str(value[key]), f"{name}.{key}"
    return None, "doc_id"


def _write_run(
    out: Path | None, records: list[dict[str, Any]], *, kind: str, source: Path, bench: BenchmarkInfo,
    model: str, extra: Mapping[str, Any], expected: Sequence[str], name: str | None = None,
    protocol: Protocol | None = None,
) -> Path:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    n = max((r["sample_index"] for r in records), default=0) + 1
    generation: dict[str, Any] = {"n": n}
    if protocol is not None:  # declared by the user: how the predictions were generated
        generation.update(temperature=protocol.temperature, top_p=protocol.top_p,
                          max_new_tokens=protocol.max_new_tokens, seed=protocol.seed)
    config = {
        "benchmark": bench.to_config(),
        "model": {"name": model, "slug": model_slug(model), "options": {}},
        "backend": f"import:{kind}",
        "generation": generation,
        "protocol": protocol.to_dict() if protocol is not None else None,
        "prompt_template": None,
        "system_prompt": protocol.system_prompt if protocol is not None else None,
        "judge": None, "limit": None, "shard": None,
        # the file's name only: a run is shared, the importer's local directories are not
        "source": {"path": source.name, "sha256_16": digest, **extra},
    }
    out = out or Path("runs") / f"{bench.name}__{model_slug(name or model)}__import-{digest}"
    meta = {
        "config": config,
        "name": name,
        "benchmark_meta": {"metric": bench.metric, "breakdown": list(bench.breakdown), "judge": bench.judge},
        "expected_items": list(expected),
        "status": "running",
    }
    with run_lock(out, "import"):
        store = RunStore.create_or_resume(out, meta)
        store.update_meta(name=name)
        store.replace_records(records)
    return Path(out)


def _record(item_id: str, index: int, response: str, gold: Any, sample: Sample | None, bench: BenchmarkInfo) -> dict[str, Any]:
    if sample is not None:
        kwargs = sample.verify_kwargs()
        if kwargs.get("policy") is None:
            kwargs["policy"] = bench.extraction
        gold, cats = sample.answer, dict(sample.categories)
    else:
        kwargs, cats = {"policy": bench.extraction}, {}
    return {
        "item_id": item_id, "sample_index": index, "prompt_hash": None, "response": response,
        "finish_reason": None, "prompt_tokens": None, "completion_tokens": None, "latency_s": None,
        "error": None, "gold": None if gold is None else str(gold), "verify_kwargs": kwargs, "categories": cats,
    }


def _check_unique(records: list[dict[str, Any]], path: Path) -> None:
    seen: set[tuple[str, int]] = set()
    for r in records:
        key = (r["item_id"], r["sample_index"])
        if key in seen:
            raise ImportFormatError(f"{path}: item {key[0]} sample {key[1]} appears twice; each prediction must be unique")
        seen.add(key)


def import_jsonl(
    path: str | Path, *, benchmark: BenchmarkInfo | None = None, samples: Sequence[Sample] | None = None,
    model: str = "imported", out: str | Path | None = None, name: str | None = None, protocol: Protocol | None = None,
) -> Path:
    """Write a run directory (unscored) from a predictions JSONL file; see module doc."""
    path = Path(path)
    by_id = {s.id: s for s in samples or ()}
    bench = benchmark or BenchmarkInfo(name=path.stem)
    records: list[dict[str, Any]] = []
    for number, row in _lines(path):
        item = row.get("item_id", row.get("id"))
        if item is None:
            raise ImportFormatError(f"{path}:{number}: no 'id' or 'item_id' field")
        item = str(item)
        texts = _texts(row.get("responses")) or _texts(
            next((row[k] for k in ("response", "prediction", "output") if k in row), None))
        if texts is None:
            raise ImportFormatError(f"{path}:{number}: item {item}: no 'response' (or 'prediction', 'output', 'responses') text")
        sample = by_id.get(item)
        if by_id and sample is None:
            raise ImportFormatError(f"{path}:{number}: item {item} is not in benchmark {bench.name}")
        gold = row.get("gold", row.get("answer"))
        if sample is None and gold is None:
            raise ImportFormatError(f"{path}:{number}: item {item}: no 'gold' answer and no --benchmark to take it from")
        first = int(row.get("sample_index", 0))
        for j, text in enumerate(texts):
            records.append(_record(item, first + j, text, gold, sample, bench))
    _check_unique(records, path)
    expected = list(dict.fromkeys(r["item_id"] for r in records))
    return _write_run(Path(out) if out else None, records, kind="jsonl", source=path, bench=bench, model=model,
                      extra={}, expected=expected, name=name, protocol=protocol)


def import_lmms(
    path: str | Path, *, benchmark: BenchmarkInfo | None = None, samples: Sequence[Sample] | None = None,
    model: str | None = None, out: str | Path | None = None, id_key: str | None = None, name: str | None = None,
    protocol: Protocol | None = None,
) -> Path:
    """Write a run directory (unscored) from an lmms-eval sample log; see module doc.

    Item ids come from `id_key` (a dotted path such as `doc.pid`) when given, else from an id
    field of `doc` or of a metric dict, else from `doc_id`; with a benchmark and only `doc_id`,
    the log's doc_id is taken as the position in our loader's order (recorded in the config).
    """
    path = Path(path)
    m = re.search(r"samples_(.+?)\.jsonl?$", path.name)
    task = m.group(1) if m else path.stem
    bench = benchmark or BenchmarkInfo(name=task)
    order = list(samples or ())
    by_id = {s.id: s for s in order}
    records: list[dict[str, Any]] = []
    sources: set[str] = set()
    for number, row in _lines(path):
        if "doc_id" not in row:
            raise ImportFormatError(f"{path}:{number}: no 'doc_id'; is this an lmms-eval --log_samples file?")
        item, source = _lmms_item_id(row, id_key)
        sample = by_id.get(item) if item is not None else None
        if sample is None and by_id:
            if item is None and not id_key:
                pos = int(row["doc_id"])
                if not 0 <= pos < len(order):
                    raise ImportFormatError(f"{path}:{number}: doc_id {pos} is outside benchmark {bench.name} ({len(order)} items)")
                sample, item, source = order[pos], order[pos].id, "doc_id_position"
            else:
                raise ImportFormatError(f"{path}:{number}: item {item} (from {source}) is not in benchmark {bench.name}; pass --id-key")
        if item is None:
            item, source = str(row["doc_id"]), "doc_id"
        sources.add(source)
        texts = _texts(row.get("resps")) or _texts(row.get("filtered_resps"))
        if texts is None:
            raise ImportFormatError(f"{path}:{number}: doc {row['doc_id']}: no text in 'resps' or 'filtered_resps'")
        gold = row.get("target")
        if sample is None and gold in (None, ""):
            raise ImportFormatError(f"{path}:{number}: doc {row['doc_id']}: empty 'target' and no --benchmark to take the gold from")
        for j, text in enumerate(texts):
            records.append(_record(item, j, text, gold, sample, bench))
    _check_unique(records, path)
    expected = list(dict.fromkeys(r["item_id"] for r in records))
    return _write_run(Path(out) if out else None, records, kind="lmms-eval", source=path, bench=bench,
                      model=model or path.parent.name or "lmms-eval-model",
                      extra={"task": task, "id_source": sorted(sources)}, expected=expected, name=name, protocol=protocol)
