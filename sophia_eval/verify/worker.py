"""Verifier worker process: `python -m sophia_eval.verify.worker FD PARENT_PID` (started by pool.py only).

Reads pickled `(kind, Request)` messages from the socket FD and answers each with a Verdict
(kind "verify") or `("ok", reason | None)` (kind "check_gold"). `None` or EOF ends it.

It never outlives its parent: the kernel kills it when the parent dies (Linux parent-death
signal), a watcher thread exits when the parent pid changes (other systems, or a parent that died
before the signal was armed), and each item runs under a CPU-time limit a little above its budget,
so even an orphan stuck in C code that holds the GIL is stopped by the kernel.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_WATCH_INTERVAL_S = 0.5
_CPU_MARGIN_S = 2  # the parent kills at the wall-clock budget; this is the backstop


def die_with_parent(parent_pid: int) -> None:
    """Arm the parent-death signal (Linux) and start the parent-pid watcher."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watcher below still applies
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(_WATCH_INTERVAL_S)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def limit_cpu(budget_s: float) -> None:
    """Let this process use at most `budget_s` (+ margin) more CPU seconds; SIGXCPU ends it."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + budget_s) + _CPU_MARGIN_S
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


# A fresh process's first symbolic checks are slow (sympy imports and caches on first use: 0.3-1 s
# each, measured) and would eat the budget of the first items after every replacement.
_WARM_UP = ((r"\frac{\sqrt{3}}{2}", r"\boxed{\frac{1}{2}\sqrt{3}}"), ("x^2-1", r"\boxed{(x-1)(x+1)}"),
            (r"\left(B_{0}-\frac{\omega}{\gamma}\right) k", r"\boxed{(B_0-\frac{\omega}{\gamma})k}"))


def warm_up() -> None:
    from sophia_eval.verify.core import judge
    from sophia_eval.verify.symbolic import to_sympy
    from sophia_eval.verify.types import make_request

    try:
        to_sympy("\\frac{x^2}{2}+1")  # the first parse builds the ANTLR tables
        for gold, pred in _WARM_UP:
            judge(make_request(gold=gold, pred=pred, timeout=60), symbolic=True)
    except Exception:
        pass  # warming up is an optimisation; a real check reports its own errors


def serve(conn: Connection) -> None:
    from sophia_eval.verify.compare import NeedsSymbolic
    from sophia_eval.verify.core import check_gold_core, judge
    from sophia_eval.verify.types import Verdict

    warm_up()
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        kind, req = msg
        limit_cpu(req.timeout)
        try:
            if kind == "verify":
                out: Any = judge(req, symbolic=True)
            else:
                out = ("ok", check_gold_core(req, symbolic=True))
        except NeedsSymbolic:  # cannot happen with symbolic=True; a status, not a crash
            out = Verdict("error", False, reason="internal: symbolic pass requested sympy again")
        except RecursionError:
            out = Verdict("error", False, reason="expression nested too deeply")
        except Exception as exc:  # garbage input must give a status, never kill the worker
            out = Verdict("error", False, reason=f"{type(exc).__name__}: {str(exc)[:200]}")
        conn.send(out)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    die_with_parent(int(sys.argv[2]))
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU must not leave core files
    except (ImportError, ValueError, OSError):
        pass
    sys.setrecursionlimit(10_000)
    serve(Connection(int(sys.argv[1])))


if __name__ == "__main__":
    main()
