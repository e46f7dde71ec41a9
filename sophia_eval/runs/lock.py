"""One writer per run directory: an exclusive lock held by `run`, `score`, `merge` and imports.

The lock is `fcntl.flock` on `<run_dir>/.lock`, so the kernel releases it when the holder dies
(SIGKILL included): a lock file left behind by a dead process is simply taken over. The file
holds the holder's pid and host, which the refusal names. Limit: `flock` is advisory and, on
some network file systems, local to one machine.
"""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sophia_eval.runs.store import RunStoreError

LOCK_FILE = ".lock"


class RunLockedError(RunStoreError):
    """Another live process writes this run directory."""


@contextmanager
def run_lock(run_dir: str | os.PathLike[str], action: str) -> Iterator[None]:
    """Hold the run directory's writer lock for the block (creating the directory if needed; a
    directory created here that holds nothing but the lock afterwards is removed again)."""
    path = Path(run_dir)
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    lock = path / LOCK_FILE
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "an unknown process"
            raise RunLockedError(
                f"{path}: another process is writing this run ({holder}); wait for it to finish, stop it, "
                f"or {action} into another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            if created and [p.name for p in path.iterdir()] == [LOCK_FILE]:  # e.g. the model failed to load
                lock.unlink()
                path.rmdir()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
