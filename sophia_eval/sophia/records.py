"""Append-only JSONL files for the SOPHIA sampling records (captions, trajectories).

Every append is flushed and fsynced, so a crash loses at most the line being written. A torn last
line (no trailing newline / unparsable) is ignored when reading and cut off before the next append;
an unparsable line in the middle is corruption and raises with file and line number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator


class RecordError(RuntimeError):
    """A record file is corrupt or belongs to a different configuration."""


class JsonlLog:
    """One append-only JSONL file."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def _valid_size(self) -> int:
        """Byte length of the prefix made of complete, parsable lines."""
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        tail = data[end:]
        if tail.strip():
            try:  # a complete object without its newline is kept; anything else is torn
                json.loads(tail)
                return len(data)
            except json.JSONDecodeError:
                pass
        return end

    def read(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                if i == len(lines) - 1:  # torn last line from a crash: dropped, rewritten on resume
                    return
                raise RecordError(f"{self.path}:{i + 1}: corrupt record ({exc.msg}); "
                                  "only the last line may be torn by a crash") from exc

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records]
        if not lines:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        valid = self._valid_size()
        with self.path.open("ab") as fh:
            if fh.tell() != valid:
                fh.truncate(valid)
                fh.seek(valid)
            # a complete last object without its newline: terminate it before appending
            if valid and self.path.read_bytes()[valid - 1:valid] != b"\n":
                fh.write(b"\n")
            fh.write("".join(lines).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        return len(lines)


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
