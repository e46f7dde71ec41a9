"""Read raw records from one source format. Each reader yields `(where, record)` where `where`
is `file:line` (jsonl), `file:#key` (json), `file:row N` (parquet) or `hf://id[/config]:split:row N`.

Every record gets `_index` (0-based position in its file) and, for an id -> record JSON object,
`_key`; specs may use them as ids when the source has none. Readers do not interpret fields;
they only report malformed input with the file and position.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Mapping

from sophia_eval.bench.spec import HubSpec
from sophia_eval.runs.jsonl import object_lines


class DataError(ValueError):
    """Bad or missing benchmark data; the message names the file, the item and what was expected."""


Record = dict[str, Any]


def dotted_get(record: Mapping[str, Any], path: str) -> Any:
    """`record["a"]["b"]` for `path` "a.b"; None when any step is missing or not a mapping."""
    cur: Any = record
    for key in path.split("."):
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def read_jsonl(path: Path) -> Iterator[tuple[str, Record]]:
    with path.open(encoding="utf-8") as fh:
        for index, (lineno, obj) in enumerate(object_lines(fh, path, DataError)):
            yield f"{path}:{lineno}", {"_index": index, **obj}


def read_json(path: Path, records: str | None = None) -> Iterator[tuple[str, Record]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno} ({exc.msg})") from exc
    for key in (records.split(".") if records else []):
        if not isinstance(data, dict) or key not in data:
            raise DataError(f"{path}: expected key {key!r} on the path {records!r} to the records")
        data = data[key]
    if isinstance(data, dict):  # id -> record: the key is kept as `_key`
        for i, (k, v) in enumerate(data.items()):
            if not isinstance(v, dict):
                raise DataError(f"{path}:#{k}: expected a JSON object per key, got {type(v).__name__}")
            yield f"{path}:#{k}", {"_key": k, "_index": i, **v}
    elif isinstance(data, list):
        for i, v in enumerate(data):
            if not isinstance(v, dict):
                raise DataError(f"{path}:#{i}: expected a JSON object per list entry, got {type(v).__name__}")
            yield f"{path}:#{i}", {"_index": i, **v}
    else:
        raise DataError(f"{path}: expected a list of records or an id -> record object, got {type(data).__name__}")


def read_parquet(path: Path) -> Iterator[tuple[str, Record]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: not a readable parquet file ({exc})") from exc
    for i, row in enumerate(table.to_pylist()):
        yield f"{path}:row {i}", {"_index": i, **row}


def read_hub(hub: HubSpec) -> Iterator[tuple[str, Record]]:
    """Stream a split from the Hugging Face hub (needs network, or a populated HF cache)."""
    import datasets

    try:
        ds = datasets.load_dataset(hub.id, hub.config, split=hub.split, revision=hub.revision)
    except Exception as exc:
        raise DataError(
            f"hf://{hub.id} (config {hub.config}, split {hub.split}, revision {hub.revision}): could not load "
            f"from the hub ({type(exc).__name__}: {exc}); put a local copy under the data root instead"
        ) from exc
    tag = f"hf://{hub.id}{'/' + hub.config if hub.config else ''}:{hub.split}"
    for i, row in enumerate(ds):
        yield f"{tag}:row {i}", {"_index": i, **dict(row)}


def read_local(fmt: str, path: Path, records: str | None = None) -> Iterator[tuple[str, Record]]:
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "json":
        return read_json(path, records)
    if fmt == "parquet":
        return read_parquet(path)
    raise DataError(f"{path}: unknown format {fmt!r}; expected jsonl, json or parquet")
