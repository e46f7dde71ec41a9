"""The on-disk run record: the only module that knows the layout of a run directory.

A run is one model on one benchmark under one configuration:

    <run_dir>/run.json       schema version, config (and its hash), provenance, summary metrics
    <run_dir>/samples.jsonl  one JSON object per (item_id, sample_index), appended as produced

`samples.jsonl` is append-only while a run is generating, through `runs.jsonl.JsonlLog` (the same
file discipline as SOPHIA's records): appends are fsynced, so a crash loses at most the line being
written; a torn last line is ignored (and cut off) on resume; a line in the middle that does not
parse is corruption and raises with file and line.
Re-scoring replaces the file atomically (write a temporary file, then rename).

Leaderboards and `sophia-eval score` read only these files, through `RunStore`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from sophia_eval.runs.jsonl import JsonlLog, RecordError, dumps_line

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"


class RunStoreError(RuntimeError):
    """A run directory is missing, corrupt, from a newer schema, or belongs to another config."""


def config_hash(config: Mapping[str, Any]) -> str:
    """Stable short hash of a run's defining configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()
"""Mode of files written atomically: what `open()` would give (read once, at import)."""


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; a run is shared with colleagues, so use the usual mode.
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunStore:
    """Read and append the records of one run directory."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def samples_file(self) -> Path:
        return self.path / SAMPLES_FILE

    # -- creating and opening -------------------------------------------------------------

    @classmethod
    def create_or_resume(cls, path: str | os.PathLike[str], meta: Mapping[str, Any]) -> "RunStore":
        """Open the run at `path` for appending, creating it if new.

        `meta["config"]` defines the run; resuming a directory whose stored config hash differs
        raises, because a different config is a different run.
        """
        if "config" not in meta:
            raise ValueError("run metadata needs a 'config' mapping (the fields that define the run)")
        store = cls(path)
        wanted = config_hash(meta["config"])
        if store.run_file.exists():
            existing = store.meta
            if existing.get("config_hash") != wanted:
                raise RunStoreError(
                    f"{store.run_file}: this directory holds a run with config hash "
                    f"{existing.get('config_hash')}, not {wanted}; a different config is a different "
                    "run: choose another --out directory or rerun with the original settings"
                )
            return store
        store.path.mkdir(parents=True, exist_ok=True)
        record = {"schema_version": SCHEMA_VERSION, **meta, "config_hash": wanted, "summary": None}
        _atomic_write_text(store.run_file, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
        return store

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "RunStore":
        """Open an existing run for reading; raises naming the file if it is not a valid run."""
        store = cls(path)
        if not store.path.is_dir():
            raise RunStoreError(f"{store.path}: no such run directory")
        store.meta  # validates run.json
        return store

    @property
    def meta(self) -> dict[str, Any]:
        """The parsed `run.json`, validated for schema version."""
        if not self.run_file.exists():
            raise RunStoreError(f"{self.run_file}: missing; is {self.path} a sophia-eval run directory?")
        try:
            meta = json.loads(self.run_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunStoreError(f"{self.run_file}: not valid JSON ({exc})") from exc
        if not isinstance(meta, dict) or "schema_version" not in meta:
            raise RunStoreError(f"{self.run_file}: expected an object with 'schema_version'")
        version = meta["schema_version"]
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise RunStoreError(
                f"{self.run_file}: schema version {version!r} is newer than this sophia-eval "
                f"understands ({SCHEMA_VERSION}); upgrade sophia-eval to read it"
            )
        return meta

    def update_meta(self, **fields: Any) -> None:
        """Atomically set top-level fields of `run.json` (e.g. `summary`, `status`)."""
        meta = self.meta
        meta.update(fields)
        _atomic_write_text(self.run_file, json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")

    # -- records ----------------------------------------------------------------------------

    def records(self) -> Iterator[dict[str, Any]]:
        """Every complete record in order. A torn final line (crash mid-write) is skipped."""
        try:
            for number, record in enumerate(JsonlLog(self.samples_file).read(), start=1):
                if not isinstance(record, dict) or "item_id" not in record or "sample_index" not in record:
                    raise RunStoreError(
                        f"{self.samples_file}: record {number}: expected an object with 'item_id' and 'sample_index'"
                    )
                yield record
        except RecordError as exc:
            raise RunStoreError(str(exc)) from exc

    def done_keys(self) -> set[tuple[str, int]]:
        """(item_id, sample_index) pairs already recorded."""
        return {(str(r["item_id"]), int(r["sample_index"])) for r in self.records()}

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records durably, one line each (a torn last line is cut off first)."""
        JsonlLog(self.samples_file).append(records)

    def replace_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Atomically replace all records (re-scoring)."""
        text = "".join(dumps_line(r) for r in records)
        _atomic_write_text(self.samples_file, text)
