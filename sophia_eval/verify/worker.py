"""Verifier worker process: `python -m sophia_eval.verify.worker FD` (started by pool.py only).

Reads pickled `(kind, Request)` messages from the socket FD and answers each with a Verdict
(kind "verify") or `("ok", reason | None)` (kind "check_gold"). `None` or EOF ends it.
"""

from __future__ import annotations

import signal
import sys
from multiprocessing.connection import Connection
from typing import Any


def serve(conn: Connection) -> None:
    from sophia_eval.verify.compare import NeedsSymbolic
    from sophia_eval.verify.core import check_gold_core, judge
    from sophia_eval.verify.symbolic import to_sympy
    from sophia_eval.verify.types import Verdict

    try:
        to_sympy("\\frac{x^2}{2}+1")  # the first parse builds the ANTLR tables (~0.3 s)
    except Exception:
        pass
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        kind, req = msg
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
    sys.setrecursionlimit(10_000)
    serve(Connection(int(sys.argv[1])))


if __name__ == "__main__":
    main()
