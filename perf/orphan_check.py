"""Kill parents mid-check and count verifier workers that outlive them (expected: 0).

Each round starts a parent that checks slow items with `verify()` (the process-wide pool) from two
threads, waits until its workers are busy, kills it with SIGKILL, SIGINT or SIGTERM in turn, and
looks for its workers 5 s later.

    .venv/bin/python perf/orphan_check.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARENT = r"""
import threading, sys
from sophia_eval.verify import verify
from sophia_eval.verify.pool import default_pool
slow = r"\boxed{\int_0^{1} e^{-t^2}\sin(t^3) dt}"
pool = default_pool(2).start()
for _ in range(2):
    threading.Thread(target=verify, kwargs={"gold": "5", "pred": slow, "timeout": 120}).start()
print(*pool.pids(), flush=True)
threading.Event().wait()
"""
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def one_round(sig: signal.Signals) -> list[int]:
    """Pids of workers still running 5 s after their parent was killed by `sig`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env=env, text=True)
    pids = [int(p) for p in parent.stdout.readline().split()]  # type: ignore[union-attr]
    time.sleep(1.0)  # both workers are inside the integral now
    parent.send_signal(sig)
    parent.wait(60)
    time.sleep(5.0)
    survivors = [p for p in pids if running(p)]
    for p in survivors:  # leave the machine clean for the next round
        os.kill(p, signal.SIGKILL)
    return survivors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args(argv)
    total = 0
    workers = 0
    for i in range(args.rounds):
        sig = SIGNALS[i % len(SIGNALS)]
        survivors = one_round(sig)
        workers += 2
        total += len(survivors)
        print(f"round {i + 1:2d}  {sig.name:7s}  surviving workers: {len(survivors)}", flush=True)
    print(f"{args.rounds} parents killed mid-check ({workers} busy workers): {total} survived 5 s")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
