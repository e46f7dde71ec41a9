"""A warm pool of worker processes for the sympy part of checks, with kill + respawn on timeout.

Why processes: sympy can sit in C-level big-integer code that no in-process timeout interrupts,
and `signal.alarm` only works on the main thread. A worker that overruns its budget is killed and
replaced; the budget starts when the worker receives the item (not while it waits in a queue).
Thread-safe: any number of threads (or an asyncio loop via `to_thread`) may call `run` at once.
"""

from __future__ import annotations

import atexit
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Iterable, Mapping

from sophia_eval.verify.types import Request, Verdict

_SPAWN_TIMEOUT_S = 120.0  # importing sympy on a loaded 2-core machine can take several seconds
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Worker:
    """One worker: a fresh `python -m sophia_eval.verify.worker` joined by a socket pair.

    A plain subprocess, not multiprocessing's spawn/forkserver: those re-import the caller's
    `__main__`, which breaks under stdin scripts, notebooks and unguarded RL launch scripts.
    """

    def __init__(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sophia_eval.verify.worker", str(child_sock.fileno())],
                pass_fds=(child_sock.fileno(),), env=env, stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C goes to the caller, which then closes the pool
            )
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        if not self.conn.poll(_SPAWN_TIMEOUT_S) or self.conn.recv() != "ready":
            self.kill()
            raise RuntimeError(f"verifier worker did not start within {_SPAWN_TIMEOUT_S:.0f} s")

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(5)
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.proc.wait(2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(2)
        self.conn.close()


class VerifierPool:
    """Warm verifier workers. Use as a context manager; `verify_many` for batches.

    `workers` is the number of processes (default: CPU count); `timeout` the default budget in
    seconds per item (an item's own `timeout` key wins).
    """

    def __init__(self, workers: int | None = None, timeout: float = 2.0) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"VerifierPool workers must be >= 1 (or None for the CPU count), got {workers}")
        if not 0 < timeout <= 600:
            raise ValueError(f"VerifierPool timeout must be in (0, 600] seconds, got {timeout}")
        self.max_workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()  # warmest worker first
        self._count = 0
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        self.restarts = 0
        """Workers killed for overrunning their budget (or dying) and replaced."""
        # a pool dropped without close() still stops its idle workers (at collection or exit)
        weakref.finalize(self, _stop_idle, self._idle, self._pid)

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop all idle workers (busy ones stop when returned)."""
        self._closed = True
        if os.getpid() != self._pid:
            return  # a forked child must not touch its parent's workers
        while True:
            try:
                self._idle.get_nowait().stop()
            except queue.Empty:
                return

    def start(self) -> "VerifierPool":
        """Start all workers now (in parallel) instead of on first use; returns self."""
        with ThreadPoolExecutor(max_workers=self.max_workers) as ex:
            workers = list(ex.map(lambda _: self._acquire(), range(self.max_workers)))
        for w in workers:
            self._release(w)
        return self

    def _acquire(self) -> _Worker:
        with self._lock:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                spawn = self._count < self.max_workers
                if spawn:
                    self._count += 1
        if spawn:
            try:
                return _Worker()
            except Exception:
                with self._lock:
                    self._count -= 1
                raise
        return self._idle.get()

    def _release(self, w: _Worker) -> None:
        if self._closed:
            w.stop()
            with self._lock:
                self._count -= 1
        else:
            self._idle.put(w)

    def _discard(self, w: _Worker) -> None:
        """Kill an overrunning or dead worker and start its replacement in the background,
        so the next check finds a warm worker instead of paying the start-up."""
        w.kill()
        with self._lock:
            self.restarts += 1
        threading.Thread(target=self._replace, daemon=True, name="sophia-verify-respawn").start()

    def _replace(self) -> None:
        try:
            w = _Worker()
        except Exception:  # the next _acquire retries the spawn and surfaces the error
            with self._lock:
                self._count -= 1
            return
        self._release(w)

    def run(self, kind: str, req: Request) -> Any:
        """Run one task in a worker within `req.timeout` seconds of work; never raises for bad input."""
        if self._closed:
            raise RuntimeError("VerifierPool is closed; create a new one")
        w = self._acquire()
        while w.proc.poll() is not None:  # died while idle (OOM killer, kill -9): not this item's fault
            self._discard(w)
            w = self._acquire()
        start = time.perf_counter()
        try:
            w.conn.send((kind, req))
            if w.conn.poll(req.timeout):
                out = w.conn.recv()
                self._release(w)
                return out
        except (EOFError, OSError) as exc:
            self._discard(w)
            return Verdict("error", False, reason=f"verifier worker died ({type(exc).__name__}); replaced")
        self._discard(w)
        return Verdict("timeout", False, method="timeout",
                       reason=f"check exceeded its {req.timeout:g} s budget "
                              f"({time.perf_counter() - start:.2f} s); worker killed and replaced")

    def verify_many(self, items: Iterable[Mapping[str, Any]], *, timeout: float | None = None) -> list[Verdict]:
        """Verdicts for `items` (mappings with `gold`, `pred` and optional metadata), in order.

        `timeout` is the budget for items without their own (default: the pool's)."""
        from sophia_eval.verify.api import _check

        budget = self.timeout if timeout is None else timeout
        reqs = [_request_from_item(it, budget, i) for i, it in enumerate(items)]
        if not reqs:
            return []
        threads = min(self.max_workers, len(reqs))
        if threads == 1:
            return [_check(r, self) for r in reqs]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sophia-verify") as ex:
            return list(ex.map(lambda r: _check(r, self), reqs))


def _request_from_item(item: Mapping[str, Any], timeout: float, index: int) -> Request:
    from sophia_eval.verify.types import make_request

    if "gold" not in item or "pred" not in item:
        raise KeyError(f"verify_many item {index} needs keys 'gold' and 'pred'; got {sorted(item)}")
    kw = dict(item)
    kw.setdefault("timeout", timeout)
    allowed = {"gold", "pred", "options", "answer_type", "tolerance", "rel_tolerance", "precision",
               "unit", "multiple", "policy", "timeout"}
    unknown = set(kw) - allowed
    if unknown:
        raise KeyError(f"verify_many item {index}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    try:
        return make_request(**kw)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"verify_many item {index}: {exc}") from None


def _stop_idle(idle: "queue.LifoQueue[_Worker]", pid: int) -> None:
    if os.getpid() != pid:
        return
    while True:
        try:
            idle.get_nowait().stop()
        except queue.Empty:
            return


_DEFAULT: VerifierPool | None = None
_DEFAULT_LOCK = threading.Lock()


def default_pool(workers: int | None = None) -> VerifierPool:
    """The process-wide lazily created pool (re-created in a forked child; grows on request)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None or _DEFAULT._pid != os.getpid() or _DEFAULT._closed:
            _DEFAULT = VerifierPool(workers=workers or min(2, os.cpu_count() or 1))
        elif workers and workers > _DEFAULT.max_workers:
            _DEFAULT.max_workers = workers
        return _DEFAULT


@atexit.register
def _close_default() -> None:
    if _DEFAULT is not None and _DEFAULT._pid == os.getpid():
        _DEFAULT.close()
