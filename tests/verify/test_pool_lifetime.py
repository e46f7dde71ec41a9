"""Workers never outlive their parent; busy ones are killed on close; a pool that cannot start
workers fails its callers; the budget counts waiting for a worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sophia_eval.verify import VerifierPool
from sophia_eval.verify import spawn
from sophia_eval.verify.types import Verdict, make_request

SLOW = r"\boxed{\int_0^{1} e^{-t^2}\sin(t^3) dt}"  # keeps sympy busy far beyond any budget
SYMBOLIC_OK = {"gold": r"\frac{\sqrt{3}}{2}", "pred": r"\boxed{\frac{1}{2}\sqrt{3}}"}
ROOT = Path(__file__).resolve().parents[2]

# A parent that starts one worker, prints its pid, then blocks in a 60 s check.
PARENT = f"""
from sophia_eval.verify import VerifierPool
pool = VerifierPool(workers=1, timeout=60).start()
print(*pool.pids(), flush=True)
pool.verify_many([{{"gold": "5", "pred": {SLOW!r}}}])
"""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def gone_within(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return not alive(pid)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_busy_worker_dies_with_its_parent(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, env=env, text=True)
    try:
        (pid,) = map(int, parent.stdout.readline().split())  # type: ignore[union-attr]
        time.sleep(1.0)  # the worker is now deep in the integral
        assert alive(pid)
        parent.send_signal(sig)
        parent.wait(30)
        survived = not gone_within(pid, 5.0)
    finally:
        if parent.poll() is None:
            parent.kill()
    if survived:
        os.kill(pid, signal.SIGKILL)
    assert not survived, f"worker {pid} outlived its parent killed by {sig.name}"


def test_cpu_limit_stops_a_runaway_worker() -> None:
    code = "from sophia_eval.verify.worker import limit_cpu\nlimit_cpu(0.5)\nwhile True: pass\n"
    proc = subprocess.run([sys.executable, "-c", code], timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == -signal.SIGXCPU


def test_close_kills_a_busy_worker_and_answers_its_caller() -> None:
    p = VerifierPool(workers=1, timeout=60).start()
    (pid,) = p.pids()
    out: list[Verdict] = []
    t = threading.Thread(target=lambda: out.extend(p.verify_many([{"gold": "5", "pred": SLOW}])))
    t.start()
    time.sleep(1.0)
    p.close()
    t.join(30)
    assert (out[0].status, gone_within(pid, 5.0)) == ("error", True)


def test_waiting_for_a_busy_worker_counts_against_the_budget() -> None:
    with VerifierPool(workers=1).start() as p:
        busy = threading.Thread(target=p.verify_many, args=([{"gold": "5", "pred": SLOW, "timeout": 5}],))
        busy.start()
        time.sleep(0.5)
        v = p.run("verify", make_request(**SYMBOLIC_OK, timeout=0.5))  # a second caller, same worker
        busy.join(30)
    assert (v.status, "no verifier worker was free" in v.reason) == ("timeout", True)


def _broken_worker(fd: int) -> list[str]:
    return [sys.executable, "-c", "pass"]  # exits before saying "ready"


def test_pool_that_cannot_start_workers_fails_every_waiting_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn, "_worker_argv", _broken_worker)
    p = VerifierPool(workers=2, timeout=30)
    out: list[Verdict] = []
    threads = [threading.Thread(target=lambda: out.extend(p.verify_many([dict(SYMBOLIC_OK)]))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    p.close()
    assert [v.status for v in out] == ["error"] * 4 and "no verifier worker could be started" in out[0].reason


def test_warm_pool_whose_worker_cannot_be_replaced_fails_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    with VerifierPool(workers=1, timeout=30).start() as p:
        (pid,) = p.pids()
        monkeypatch.setattr(spawn, "_worker_argv", _broken_worker)
        os.kill(pid, signal.SIGKILL)
        gone_within(pid, 5.0)
        out: list[Verdict] = []
        t = threading.Thread(target=lambda: out.extend(p.verify_many([dict(SYMBOLIC_OK)])))
        t.start()
        t.join(60)
    assert [v.status for v in out] == ["error"]


def test_start_raises_when_a_worker_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn, "_worker_argv", _broken_worker)
    with pytest.raises(RuntimeError, match="could not start a worker"):
        VerifierPool(workers=1).start()
