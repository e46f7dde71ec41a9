"""The one append-only JSONL implementation: run records (`samples.jsonl`) and SOPHIA's records
(captions, trajectories, selections, behaviour log-probs) are all written and read through it.

Every append is flushed and fsynced, so a crash loses at most the line being written. A torn last
line (no trailing newline / unparsable) is ignored when reading and cut off before the next append;
an unparsable line in the middle is corruption and raises with file and line number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator


def object_lines(lines: Iterable[str], where: str | Path, error: type[Exception] = ValueError
                 ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON-lines text; a line that is not a JSON
    object raises `error` naming `where`, the line and what was expected. One parser for every
    JSONL input (benchmark data, training and warm-up sets, imported logs)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue  # a trailing blank line is not a record
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where}:{number}: malformed JSON line ({exc.msg}); expected one JSON object per line") from exc
        if not isinstance(obj, dict):
            raise error(f"{where}:{number}: expected a JSON object, got {type(obj).__name__}")
        yield number, obj


class RecordError(RuntimeError):
    """A record file is corrupt or belongs to a different configuration (file and line in the message)."""


class JsonlLog:
    """One append-only JSONL file."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def _valid_size(self) -> int:
        """Byte length of the prefix made of complete, parsable lines (reads only the tail)."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            pos, tail = size, b""
            while pos > 0 and b"\n" not in tail:  # walk back to the last newline, 64 KiB at a time
                step = min(65536, pos)
                pos -= step
                fh.seek(pos)
                tail = fh.read(step) + tail
        cut = tail.rfind(b"\n")
        end = pos + cut + 1 if cut >= 0 else 0
        last = tail[cut + 1:]
        if last.strip():
            try:  # a complete object without its newline is kept; anything else is torn
                json.loads(last)
                return size
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass
        return end

    def read(self) -> Iterator[dict[str, Any]]:
        """Records in file order, streamed line by line."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            prev: tuple[int, str] | None = None
            for i, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                if prev is not None:
                    yield self._parse(*prev, last=False)
                prev = (i, line)
            if prev is not None:
                try:
                    yield self._parse(*prev, last=True)
                except _Torn:
                    return

    def _parse(self, line_no: int, line: str, *, last: bool) -> Any:
        try:
            return json.loads(line)
        except json.JSONDecodeError as exc:
            if last and not line.endswith("\n"):  # torn by a crash: dropped, rewritten on resume
                raise _Torn() from exc
            raise RecordError(f"{self.path}:{line_no}: corrupt record ({exc.msg}); "
                              "only the last line may be torn by a crash") from exc

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        lines = [dumps_line(r) for r in records]
        if not lines:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        valid = self._valid_size()
        with self.path.open("r+b" if self.path.exists() else "wb") as fh:
            fh.truncate(valid)
            fh.seek(valid)
            if valid:
                fh.seek(valid - 1)
                if fh.read(1) != b"\n":  # a complete last object without its newline: terminate it
                    fh.write(b"\n")
            fh.write("".join(lines).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        return len(lines)


def dumps_line(record: Any) -> str:
    """One record as one JSONL line (sorted keys; values JSON cannot hold are stored as text)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n"


class _Torn(Exception):
    """Internal: the last line is incomplete."""


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
