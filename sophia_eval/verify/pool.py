"""A warm pool of worker processes for the sympy part of checks, with kill + respawn on timeout.

Why processes: sympy can sit in C-level big-integer code that no in-process timeout interrupts,
and `signal.alarm` only works on the main thread. Thread-safe: any number of threads (or an
asyncio loop via `to_thread`) may call `run` at once.

Time: a check's budget is counted from the call, so waiting for a free worker, or for the
replacement of a killed one, is part of it. Only a cold pool (no worker has ever become ready) lets
its first callers wait for the start-up (~2 s to import sympy); `start()` pays that up front.

Lifetime: workers never outlive the pool's process. Each worker asks the kernel for SIGKILL when
its parent dies (Linux), also polls its parent pid, and caps its own CPU time per item; busy
workers are killed on `close()` and at interpreter exit. If no worker can be started, every
waiting caller gets an `error` verdict instead of waiting forever.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from concurrent.futures import CancelledError, Future
from typing import Any, Iterable, Mapping

from sophia_eval.verify.check import first_pass, symbolic_pass, with_elapsed
from sophia_eval.verify.spawn import SPAWN_TIMEOUT_S, Threads, Worker
from sophia_eval.verify.types import Request, Verdict, make_request
from sophia_eval.verify.vocab import METADATA_KEYS


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
        self._cond = threading.Condition()
        self._idle: list[Worker] = []  # warmest worker last
        self._workers: set[Worker] = set()  # idle and busy
        self._starting = 0
        self._warm = False  # has any worker ever become ready?
        self._spawn_failures = 0
        self._spawn_error = ""
        self._closed = False
        self._executor: Threads | None = None
        self._pid = os.getpid()
        self.restarts = 0
        """Workers killed for overrunning their budget (or dying) and replaced."""
        _POOLS.add(self)
        # a pool dropped without close() still stops its workers (at collection or exit)
        weakref.finalize(self, _stop_all, self._workers, self._pid)

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pids(self) -> list[int]:
        """Process ids of the live workers (idle and busy)."""
        with self._cond:
            return [w.proc.pid for w in self._workers]

    def close(self) -> None:
        """Stop idle workers and kill busy ones; callers still waiting get an `error` verdict."""
        with self._cond:
            self._closed = True
            if os.getpid() != self._pid:
                return  # a forked child must not touch its parent's workers
            idle, busy = list(self._idle), [w for w in self._workers if w not in self._idle]
            self._idle.clear()
            self._workers.clear()
            self._cond.notify_all()
            if self._executor is not None:
                self._executor.stop(cancel=True)
        for w in busy:
            w.interrupt()  # the thread that owns it then sees EOF and closes it
        for w in idle:
            w.stop()

    def start(self) -> "VerifierPool":
        """Start all workers now (in parallel) instead of on first use; returns self.

        Raises RuntimeError when a worker cannot be started."""
        with self._cond:
            failures = self._spawn_failures
            self._grow(self.max_workers)
            deadline = time.monotonic() + SPAWN_TIMEOUT_S + 5
            while len(self._workers) < self.max_workers and not self._closed:
                if self._spawn_failures != failures:
                    raise RuntimeError(f"VerifierPool could not start a worker: {self._spawn_error}")
                if not self._cond.wait(deadline - time.monotonic()):
                    raise RuntimeError(f"VerifierPool workers did not start within {SPAWN_TIMEOUT_S:.0f} s")
        return self

    # -- workers (all under self._cond unless noted) --------------------------------------------
    def _grow(self, n: int) -> None:
        """Start workers in the background until `n` exist or are starting."""
        while len(self._workers) + self._starting < n:
            self._starting += 1
            threading.Thread(target=self._spawn, daemon=True, name="sophia-verify-spawn").start()

    def _spawn(self) -> None:  # own thread, no lock held while the worker starts
        try:
            w = Worker()
        except Exception as exc:
            with self._cond:
                self._starting -= 1
                self._spawn_failures += 1
                self._spawn_error = f"{type(exc).__name__}: {exc}"
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            if not self._closed:
                self._workers.add(w)
                self._idle.append(w)
                self._warm = True
                self._cond.notify()
                return
        w.stop()

    def _acquire(self, deadline: float) -> "tuple[Worker, float] | Verdict":
        """(A live idle worker, seconds spent waiting for a cold pool to start), or the verdict for
        why no worker came before `deadline`."""
        waited_from = time.monotonic()
        cold_wait = 0.0
        with self._cond:
            failures = self._spawn_failures
            while True:
                if self._closed:
                    return Verdict("error", False, reason="VerifierPool was closed while the check waited")
                if self._idle:
                    w = self._idle.pop()
                    if w.proc.poll() is None:
                        return w, cold_wait
                    self._drop(w)  # died while idle (OOM killer, kill -9): not this item's fault
                    continue
                self._grow(self.max_workers)
                if self._spawn_failures != failures and not self._workers:
                    return Verdict("error", False,
                                   reason=f"no verifier worker could be started ({self._spawn_error})")
                now = time.monotonic()
                if not self._warm:
                    wait = SPAWN_TIMEOUT_S + 5  # a cold pool: the start-up is not the item's fault
                elif now >= deadline:
                    return Verdict("timeout", False, method="timeout",
                                   reason=f"no verifier worker was free within the budget "
                                          f"(waited {now - waited_from:.2f} s)")
                else:
                    wait = deadline - now
                cold = not self._warm
                if not self._cond.wait(wait) and not self._warm:
                    return Verdict("error", False, reason=f"no verifier worker started within {wait:.0f} s")
                if cold:
                    cold_wait += time.monotonic() - now

    def _drop(self, w: Worker) -> None:
        """Forget a dead or overrunning worker and start its replacement in the background,
        so the next check finds a warm worker."""
        self._workers.discard(w)
        self.restarts += 1
        if not self._closed:
            self._grow(self.max_workers)

    def _release(self, w: Worker) -> None:
        with self._cond:
            if w in self._workers and not self._closed:
                self._idle.append(w)
                self._cond.notify()
                return
        w.stop()

    def _discard(self, w: Worker) -> None:
        w.kill()  # outside the lock: waits for the process
        with self._cond:
            if w in self._workers:
                self._drop(w)

    def run(self, kind: str, req: Request, *, deadline: float | None = None) -> Any:
        """Run one task in a worker, finished by `deadline` (time.monotonic(); default: `req.timeout`
        from now); never raises for bad input."""
        if self._closed:
            raise RuntimeError("VerifierPool is closed; create a new one")
        start = time.monotonic()
        deadline = start + req.timeout if deadline is None else deadline
        got = self._acquire(deadline)
        if isinstance(got, Verdict):
            return got
        w, cold_wait = got
        deadline += cold_wait  # a cold pool's start-up is not the item's fault
        try:
            w.conn.send((kind, req))
            if w.conn.poll(max(0.0, deadline - time.monotonic())):
                out = w.conn.recv()
                self._release(w)
                return out
        except (EOFError, OSError) as exc:
            self._discard(w)
            why = "the pool was closed" if self._closed else f"{type(exc).__name__}; replaced"
            return Verdict("error", False, reason=f"verifier worker died ({why})")
        self._discard(w)
        return Verdict("timeout", False, method="timeout",
                       reason=f"check exceeded its {req.timeout:g} s budget "
                              f"({time.monotonic() - start:.2f} s in the worker call); worker killed and replaced")

    def verify_many(self, items: Iterable[Mapping[str, Any]], *, timeout: float | None = None) -> list[Verdict]:
        """Verdicts for `items` (mappings with `gold`, `pred` and optional metadata), in order.

        `timeout` is the budget for items without their own (default: the pool's). The pure-Python
        pass runs in this thread while items that need sympy go to the workers through
        `max_workers` threads shared by concurrent calls; an item's budget is its first-pass time
        plus its time from when such a thread picks it up (the batch's queue is not charged)."""
        if self._closed:
            raise RuntimeError("VerifierPool is closed; create a new one")
        budget = self.timeout if timeout is None else timeout
        reqs = [_request_from_item(it, budget, i) for i, it in enumerate(items)]
        out: list[Verdict | Future[Verdict]] = []
        for r in reqs:
            start = time.monotonic()
            v = first_pass(r)
            spent = time.monotonic() - start
            out.append(with_elapsed(v, spent) if v is not None
                       else self._threads().submit(symbolic_pass, r, self, spent))
        return [_result(v) if isinstance(v, Future) else v for v in out]

    def _threads(self) -> "Threads":
        """`max_workers` threads shared by every `verify_many` call on this pool: concurrent batches
        queue here, before their items' budgets start, instead of queueing for a worker."""
        with self._cond:
            if self._executor is None or self._executor.size != self.max_workers:  # the default pool grew
                if self._executor is not None:
                    self._executor.stop()
                self._executor = Threads(self.max_workers)
            return self._executor


def _result(f: "Future[Verdict]") -> Verdict:
    try:
        return f.result()
    except CancelledError:
        return Verdict("error", False, reason="VerifierPool was closed while the check waited")


_ITEM_KEYS = frozenset({"gold", "pred", "policy", "timeout", *METADATA_KEYS})


def _request_from_item(item: Mapping[str, Any], timeout: float, index: int) -> Request:
    if "gold" not in item or "pred" not in item:
        raise KeyError(f"verify_many item {index} needs keys 'gold' and 'pred'; got {sorted(item)}")
    kw = dict(item)
    kw.setdefault("timeout", timeout)
    unknown = set(kw) - _ITEM_KEYS
    if unknown:
        raise KeyError(f"verify_many item {index}: unknown keys {sorted(unknown)}; allowed: {sorted(_ITEM_KEYS)}")
    try:
        return make_request(**kw)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"verify_many item {index}: {exc}") from None


def _stop_all(workers: set[Worker], pid: int) -> None:
    if os.getpid() != pid:
        return
    for w in list(workers):
        w.stop()
    workers.clear()


_POOLS: "weakref.WeakSet[VerifierPool]" = weakref.WeakSet()
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
def _close_all() -> None:
    """At exit (including after Ctrl-C or a SIGTERM handler that exits), kill busy workers too."""
    for pool in list(_POOLS):
        if pool._pid == os.getpid():
            pool.close()
