"""The time budget holds in threads, asyncio and worker processes; stuck workers are replaced."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from sophia_eval.verify import VerifierPool, check_gold, verify, verify_many
from sophia_eval.verify.types import Verdict

# A real input that keeps sympy busy far beyond any budget (symbolic integration).
SLOW = r"\boxed{\int_0^{1} e^{-t^2}\sin(t^3) dt}"
SYMBOLIC_OK = {"gold": r"\frac{\sqrt{3}}{2}", "pred": r"\boxed{\frac{1}{2}\sqrt{3}}"}


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=1, timeout=0.5) as p:
        yield p.start()  # worker start-up is not part of any check's budget


def test_timeout_status_within_budget(pool: VerifierPool) -> None:
    start = time.perf_counter()
    (v,) = pool.verify_many([{"gold": "5", "pred": SLOW}])
    assert v.status == "timeout" and time.perf_counter() - start < 0.5 + 1.0


def test_stuck_worker_is_replaced_and_pool_keeps_working(pool: VerifierPool) -> None:
    pool.verify_many([{**SYMBOLIC_OK, "timeout": 30}])  # a warm worker (an earlier test may have killed one)
    before = pool.restarts
    pool.verify_many([{"gold": "5", "pred": SLOW}])
    (v,) = pool.verify_many([{**SYMBOLIC_OK, "timeout": 30}])
    assert (pool.restarts, v.status) == (before + 1, "correct")


def test_verify_many_keeps_order(pool: VerifierPool) -> None:
    items = [{"gold": str(i), "pred": f"\\boxed{{{i if i % 2 else i + 1}}}"} for i in range(20)]
    assert [v.correct for v in pool.verify_many(items)] == [bool(i % 2) for i in range(20)]


def test_item_timeout_overrides_pool_default(pool: VerifierPool) -> None:
    (v,) = pool.verify_many([{**SYMBOLIC_OK, "timeout": 30}])
    assert v.status == "correct"


def test_unknown_item_key_is_an_error_naming_it(pool: VerifierPool) -> None:
    with pytest.raises(KeyError, match="golden"):
        pool.verify_many([{"gold": "1", "pred": "1", "golden": "x"}])


def test_pool_rejects_zero_workers() -> None:
    with pytest.raises(ValueError, match="workers must be >= 1"):
        VerifierPool(workers=0)


def test_closed_pool_refuses_work() -> None:
    p = VerifierPool(workers=1)
    p.close()
    with pytest.raises(RuntimeError, match="closed"):
        p.run("verify", None)  # type: ignore[arg-type]


def test_budget_holds_in_a_non_main_thread() -> None:
    out: list[Verdict] = []
    t = threading.Thread(target=lambda: out.append(verify(gold="5", pred=SLOW, timeout=0.5)))
    t.start()
    t.join(60)
    assert out and out[0].status == "timeout"


def test_budget_holds_inside_an_asyncio_loop() -> None:
    async def main() -> tuple[Verdict, Verdict]:
        direct = verify(gold="5", pred=SLOW, timeout=0.5)  # blocking call inside the loop
        in_thread = await asyncio.to_thread(verify, gold="5", pred=SLOW, timeout=0.5)
        return direct, in_thread

    assert [v.status for v in asyncio.run(main())] == ["timeout", "timeout"]


def test_many_threads_share_the_default_pool() -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        v = verify(gold=f"x^2-{i}^2", pred=f"\\boxed{{(x-{i})(x+{i})}}", timeout=30)
        with lock:
            results.append(v.correct)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == [True] * 8


def _verify_in_child(_: int) -> str:
    return verify(gold=SYMBOLIC_OK["gold"], pred=SYMBOLIC_OK["pred"], timeout=30).status


@pytest.mark.slow
def test_verify_works_in_a_forked_worker_process() -> None:
    verify(**SYMBOLIC_OK, timeout=30)  # the parent's default pool exists before the fork
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as ex:
        assert ex.submit(_verify_in_child, 0).result(timeout=120) == "correct"


def test_verify_many_module_function() -> None:
    vs = verify_many([{"gold": "1", "pred": "\\boxed{1}"}, {"gold": "1", "pred": "\\boxed{2}"}], workers=1)
    assert [v.status for v in vs] == ["correct", "incorrect"]


def test_verdict_pickles() -> None:
    v = verify(gold="1", pred="\\boxed{1}")
    assert pickle.loads(pickle.dumps(v)) == v


def test_check_gold_accepts_latex() -> None:
    assert check_gold(gold=r"\left(3, \frac{\pi}{2}\right)") is None


def test_check_gold_reports_control_characters() -> None:
    assert "control characters" in (check_gold(gold="\x0crac{36}{13}") or "")


def test_check_gold_reports_bad_choice_gold() -> None:
    assert "option" in (check_gold(gold="7", answer_type="choice", options=["1", "2"]) or "")


def test_invalid_metadata_raises_with_the_fix() -> None:
    with pytest.raises(ValueError, match="answer_type must be one of"):
        verify(gold="1", pred="1", answer_type="number")


def test_garbage_never_raises() -> None:
    for junk in ["\\", "{" * 5000, "}" * 5000, "\\frac{", "^^^^", "\\begin{pmatrix}", "$" * 100, "\x00" * 10]:
        assert verify(gold="5", pred=f"\\boxed{{{junk}}}").status in ("incorrect", "no_answer")


def test_worker_killed_while_idle_is_replaced_transparently(pool: VerifierPool) -> None:
    pool.verify_many([{**SYMBOLIC_OK, "timeout": 30}])  # one warm, idle worker
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    (v,) = pool.verify_many([{**SYMBOLIC_OK, "timeout": 30}])
    assert v.status == "correct"


def test_invalid_item_metadata_names_the_item(pool: VerifierPool) -> None:
    with pytest.raises(ValueError, match="item 1: answer_type"):
        pool.verify_many([{"gold": "1", "pred": "1"}, {"gold": "1", "pred": "1", "answer_type": "bogus"}])


def test_unknown_policy_is_a_metadata_error_listing_known_ones() -> None:
    with pytest.raises(ValueError, match="lenient"):
        verify(gold="1", pred="1", policy="nope")


def test_dropped_pool_stops_its_workers() -> None:
    import gc

    p = VerifierPool(workers=1).start()
    proc = next(iter(p._workers)).proc
    del p
    gc.collect()
    assert proc.wait(10) is not None


def test_workers_run_this_package_whatever_the_working_directory(tmp_path, monkeypatch) -> None:
    """`python -m` puts the working directory first on the path: a worker started from another
    checkout (or any folder holding a `sophia_eval/`) must still run the caller's verifier."""
    fake = tmp_path / "sophia_eval" / "verify"
    fake.mkdir(parents=True)
    (tmp_path / "sophia_eval" / "__init__.py").write_text("raise ImportError('the wrong sophia_eval')\n")
    (fake / "__init__.py").write_text("")
    (fake / "worker.py").write_text("raise SystemExit(3)\n")
    monkeypatch.chdir(tmp_path)
    with VerifierPool(workers=1, timeout=30.0) as p:
        v = p.verify_many([{"gold": "x^2 - 1", "pred": r"\boxed{(x-1)(x+1)}"}])[0]
    assert v.status == "correct", v
