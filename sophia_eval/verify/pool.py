"""A warm pool of worker processes for the sympy part of checks, with kill + respawn on timeout.

Why processes: sympy can sit in C-level big-integer code that no in-process timeout interrupts,
and `signal.alarm` only works on the main thread. A worker that overruns its budget is killed and
replaced; the budget starts when the worker receives the item (not while it waits in a queue).
Thread-safe: any number of threads (or an asyncio loop via `to_thread`) may call `run` at once.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Mapping

from sophia_eval.verify.types import Request, Verdict

_SPAWN_TIMEOUT_S = 120.0  # importing sympy on a loaded 2-core machine can take several seconds


def _worker_main(conn: Any) -> None:
    """Worker loop: warm up sympy and the LaTeX parser, then answer (kind, request) messages."""
    from sophia_eval.verify.compare import NeedsSymbolic
    from sophia_eval.verify.core import check_gold_core, judge
    from sophia_eval.verify.symbolic import to_sympy

    try:
        to_sympy("\\frac{x^2}{2}+1")  # first parse builds the ANTLR tables (~0.3 s)
    except Exception:
        pass
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if msg is None:
            return
        kind, req = msg
        try:
            if kind == "verify":
                out: Any = judge(req, symbolic=True)
            else:
                out = ("ok", check_gold_core(req, symbolic=True))
        except NeedsSymbolic:  # cannot happen with symbolic=True; kept as a status, not a crash
            out = Verdict("error", False, reason="internal: symbolic pass requested sympy again")
        except RecursionError:
            out = Verdict("error", False, reason="expression nested too deeply")
        except Exception as exc:  # garbage input must give a status, never kill the worker
            out = Verdict("error", False, reason=f"{type(exc).__name__}: {str(exc)[:200]}")
        conn.send(out)


def _context() -> Any:
    if sys.platform.startswith("linux"):
        ctx = mp.get_context("forkserver")
        # the fork server imports these once, so a replacement worker starts in milliseconds
        ctx.set_forkserver_preload(["sophia_eval.verify.pool", "sympy", "latex2sympy2_extended"])
        return ctx
    return mp.get_context("spawn")


class _Worker:
    def __init__(self, ctx: Any) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="sophia-verify")
        self.proc.start()
        child.close()
        if not parent.poll(_SPAWN_TIMEOUT_S) or parent.recv() != "ready":
            self.kill()
            raise RuntimeError(f"verifier worker did not start within {_SPAWN_TIMEOUT_S:.0f} s")

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(5)
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.proc.join(2)
        except (OSError, BrokenPipeError):
            pass
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2)
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
        self._ctx = _context()
        self.restarts = 0
        """Workers killed for overrunning their budget (or dying) and replaced."""

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
                return _Worker(self._ctx)
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
        w.kill()
        with self._lock:
            self._count -= 1
            self.restarts += 1

    def run(self, kind: str, req: Request) -> Any:
        """Run one task in a worker within `req.timeout` seconds of work; never raises for bad input."""
        if self._closed:
            raise RuntimeError("VerifierPool is closed; create a new one")
        w = self._acquire()
        start = time.perf_counter()
        try:
            w.conn.send((kind, req))
            if w.conn.poll(req.timeout):
                out = w.conn.recv()
                self._release(w)
                return out
        except (EOFError, OSError, BrokenPipeError) as exc:
            self._discard(w)
            return Verdict("error", False, reason=f"verifier worker died ({type(exc).__name__}); replaced")
        self._discard(w)
        return Verdict("timeout", False, method="timeout",
                       reason=f"check exceeded its {req.timeout:g} s budget "
                              f"({time.perf_counter() - start:.2f} s); worker killed and replaced")

    def verify_many(self, items: Iterable[Mapping[str, Any]]) -> list[Verdict]:
        """Verdicts for `items` (mappings with `gold`, `pred` and optional metadata), in order."""
        from sophia_eval.verify.api import _check

        reqs = [_request_from_item(it, self.timeout, i) for i, it in enumerate(items)]
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
    return make_request(**kw)


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
