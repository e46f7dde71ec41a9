"""Starting one verifier worker process: the parent side of `worker.py` (used by pool.py only).

A plain subprocess (`python -m sophia_eval.verify.worker FD PARENT_PID`) joined by a socket pair,
not multiprocessing's spawn/forkserver: those re-import the caller's `__main__`, which breaks under
stdin scripts, notebooks and unguarded RL launch scripts. Every worker is forked by one long-lived
thread, because Linux sends the parent-death signal when the *thread* that forked the child exits.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

SPAWN_TIMEOUT_S = 120.0  # importing sympy on a loaded 2-core machine can take several seconds
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _worker_argv(fd: int) -> list[str]:
    return [sys.executable, "-m", "sophia_eval.verify.worker", str(fd), str(os.getpid())]


_FORKER: "Threads | None" = None
_FORKER_PID = 0
_FORKER_LOCK = threading.Lock()


def _popen(fd: int, env: dict[str, str]) -> "subprocess.Popen[bytes]":
    # cwd: `python -m` puts the working directory first on sys.path, so a worker started from a
    # folder holding another `sophia_eval/` (a second checkout) would run that code instead.
    return subprocess.Popen(_worker_argv(fd), pass_fds=(fd,), env=env, stdin=subprocess.DEVNULL, cwd=_PACKAGE_ROOT,
                            start_new_session=True)  # Ctrl-C goes to the caller, which then closes the pool


def _fork(fd: int, env: dict[str, str]) -> "subprocess.Popen[bytes]":
    """Fork a worker on this process's one long-lived forker thread (see the module docstring)."""
    global _FORKER, _FORKER_PID
    with _FORKER_LOCK:
        if _FORKER is None or _FORKER_PID != os.getpid():  # a forked child has no forker thread
            _FORKER, _FORKER_PID = Threads(1, name="sophia-verify-forker"), os.getpid()
        forker = _FORKER
    return forker.submit(_popen, fd, env).result()


class Worker:
    """One started worker: `proc` (its Popen) and `conn` (its end of the socket pair)."""

    def __init__(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            self.proc = _fork(child_sock.fileno(), env)
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        try:
            ready = self.conn.poll(SPAWN_TIMEOUT_S) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self.proc.poll()
            self.kill()
            raise RuntimeError(f"verifier worker exited with code {code} before it was ready" if code is not None
                               else f"verifier worker did not start within {SPAWN_TIMEOUT_S:.0f} s")

    def interrupt(self) -> None:
        """Kill the process but leave the connection to the thread using it (safe from any thread)."""
        try:
            self.proc.kill()
        except OSError:
            pass

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.proc.wait(2)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(2)
        self.conn.close()


class Threads:
    """`size` daemon threads running submitted calls in order.

    Daemon, unlike ThreadPoolExecutor's: a batch interrupted by Ctrl-C must not keep the interpreter
    alive until it ends (the pool's exit hook kills the busy workers instead), and the forker thread
    must live exactly as long as the process."""

    def __init__(self, size: int, name: str = "sophia-verify") -> None:
        self.size = size
        self._jobs: "queue.SimpleQueue[tuple[Future[Any], Any, tuple[Any, ...]] | None]" = queue.SimpleQueue()
        for _ in range(size):
            threading.Thread(target=self._loop, daemon=True, name=name).start()

    def submit(self, fn: Any, *args: Any) -> "Future[Any]":
        f: "Future[Any]" = Future()
        self._jobs.put((f, fn, args))
        return f

    def stop(self, cancel: bool = False) -> None:
        """End the threads once the queued calls ran (or, with `cancel`, cancel those calls)."""
        while cancel:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in range(self.size):
            self._jobs.put(None)

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            f, fn, args = job
            if f.set_running_or_notify_cancel():
                try:
                    f.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    f.set_exception(exc)
