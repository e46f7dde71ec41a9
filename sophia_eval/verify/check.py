"""One check under one budget: the pure-Python pass in this thread, the sympy part in a pool worker.

Shared by `verify()` (process-wide pool) and `VerifierPool.verify_many` (its own pool); it sits below
both so neither imports the other.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from sophia_eval.verify.compare import NeedsSymbolic
from sophia_eval.verify.core import judge
from sophia_eval.verify.types import Request, Verdict

if TYPE_CHECKING:
    from sophia_eval.verify.pool import VerifierPool


def check(req: Request, get_pool: "Callable[[], VerifierPool]") -> Verdict:
    """Verdict for `req` within `req.timeout` seconds counted from this call.

    The budget covers the in-thread pass, waiting for a free worker and the worker's work; `get_pool`
    is only called when sympy is needed.
    """
    start = time.monotonic()
    deadline = start + req.timeout
    try:
        v = judge(req, symbolic=False)
    except NeedsSymbolic:
        if time.monotonic() >= deadline:
            v = Verdict("timeout", False, method="timeout",
                        reason=f"the {req.timeout:g} s budget was spent before the symbolic check")
        else:
            v = get_pool().run("verify", req, deadline=deadline)
    except RecursionError:
        v = Verdict("error", False, reason="input nested too deeply")
    except Exception as exc:  # garbage input gives a status, never an exception
        v = Verdict("error", False, reason=f"{type(exc).__name__}: {str(exc)[:200]}")
    return Verdict(**{**v.to_dict(), "elapsed_s": time.monotonic() - start})
