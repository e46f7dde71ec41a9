"""One writer per run directory (`runs.lock.run_lock`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sophia_eval.runs.lock import LOCK_FILE, RunLockedError, run_lock


def test_second_writer_is_refused_with_the_holder_pid(tmp_path):
    with run_lock(tmp_path / "r", "run"):
        code = ("import sys; from sophia_eval.runs.lock import run_lock\n"
                "try:\n  run_lock(sys.argv[1], 'run').__enter__()\nexcept Exception as e:\n  print(e)")
        res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], capture_output=True, text=True,
                             env=dict(os.environ))
    assert f"pid {os.getpid()}" in res.stdout and "another process is writing this run" in res.stdout


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    run = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys, time; from sophia_eval.runs.lock import run_lock\n"
                             "with run_lock(sys.argv[1], 'run'):\n  print('held', flush=True); time.sleep(600)",
                             str(run)], stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(RunLockedError):
        with run_lock(run, "run"):
            pass
    proc.kill()
    proc.wait(timeout=60)
    assert (run / LOCK_FILE).read_text().startswith(f"pid {proc.pid}")  # left behind by the dead holder
    with run_lock(run, "run"):
        assert (run / LOCK_FILE).read_text().startswith(f"pid {os.getpid()}")


def test_a_directory_made_only_for_the_lock_is_removed_again(tmp_path):
    with pytest.raises(RuntimeError):
        with run_lock(tmp_path / "new", "run"):
            raise RuntimeError("model failed to load")
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"
    with run_lock(kept, "run"):
        (kept / "run.json").write_text("{}")
    assert sorted(p.name for p in kept.iterdir()) == [LOCK_FILE, "run.json"]
