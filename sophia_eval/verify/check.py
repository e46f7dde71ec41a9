"""One check under one budget: the pure-Python pass in this thread, the sympy part in a pool worker.

Shared by `verify()` (process-wide pool) and `VerifierPool.verify_many` (its own pool); it sits below
both so neither imports the other.
"""

from __future__ import annotations

import time
from typing import Callable, Protocol

from sophia_eval.verify.compare import NeedsSymbolic
from sophia_eval.verify.core import judge
from sophia_eval.verify.types import Request, Verdict


class SymbolicRunner(Protocol):
    """What the sympy pass needs of a pool (`VerifierPool` is one); typed structurally so this
    module stays below the pool."""

    def run(self, kind: str, req: Request, *, deadline: float | None = None) -> Verdict: ...


def first_pass(req: Request) -> Verdict | None:
    """The verdict without sympy, or None when the sympy pass must decide."""
    try:
        return judge(req, symbolic=False)
    except NeedsSymbolic:
        return None
    except RecursionError:
        return Verdict("error", False, reason="input nested too deeply")
    except Exception as exc:  # garbage input gives a status, never an exception
        return Verdict("error", False, reason=f"{type(exc).__name__}: {str(exc)[:200]}")


def symbolic_pass(req: Request, pool: SymbolicRunner, spent: float) -> Verdict:
    """The sympy pass in a worker, within what is left of the budget after `spent` seconds;
    the verdict's `elapsed_s` includes `spent`."""
    start = time.monotonic()
    if spent >= req.timeout:
        v = Verdict("timeout", False, method="timeout",
                    reason=f"the {req.timeout:g} s budget was spent before the symbolic check")
    else:
        v = pool.run("verify", req, deadline=start + req.timeout - spent)
    return with_elapsed(v, spent + time.monotonic() - start)


def with_elapsed(v: Verdict, elapsed: float) -> Verdict:
    return Verdict(**{**v.to_dict(), "elapsed_s": elapsed})


def check(req: Request, get_pool: Callable[[], SymbolicRunner]) -> Verdict:
    """Verdict for `req` within `req.timeout` seconds counted from this call.

    The budget covers the in-thread pass, waiting for a free worker and the worker's work; `get_pool`
    is only called when sympy is needed.
    """
    start = time.monotonic()
    v = first_pass(req)
    if v is None:
        return symbolic_pass(req, get_pool(), time.monotonic() - start)
    return with_elapsed(v, time.monotonic() - start)
