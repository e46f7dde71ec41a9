"""A run killed with SIGKILL mid-way and resumed gets exactly the records of an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness_fakes import BENCH, FakeGenerator, toy_config, toy_samples

from sophia_eval import harness
from sophia_eval.store import RunStore

FAKES = Path(__file__).with_name("harness_fakes.py")


def _strip(records):
    return [{k: v for k, v in r.items() if k not in harness.TIMING_FIELDS} for r in records]


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKES.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(FAKES), str(killed), "0.3"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples_file = killed / "samples.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until at least two batches are on disk, then kill
        if samples_file.exists() and samples_file.read_text().count("\n") >= 4:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = len(list(RunStore.open(killed).records()))
    assert 4 <= partial < 12  # it really was interrupted part-way

    harness.run(toy_config(killed, batch_size=2), generator=FakeGenerator(), samples=toy_samples(), bench=BENCH,
                progress=False)
    whole = harness.run(toy_config(tmp_path / "whole", batch_size=2), generator=FakeGenerator(),
                        samples=toy_samples(), bench=BENCH, progress=False)
    assert _strip(RunStore.open(killed).records()) == _strip(RunStore.open(whole).records())


def test_resumed_summary_matches_uninterrupted(tmp_path):
    out = tmp_path / "r"
    store_gen = FakeGenerator()
    harness.run(toy_config(out, batch_size=2, limit=5), generator=store_gen, samples=toy_samples(), bench=BENCH,
                progress=False)
    # simulate a crash after the first 3 records: drop the rest and the summary
    store = RunStore.open(out)
    store.replace_records(list(store.records())[:3])
    store.update_meta(summary=None, status="running")
    harness.run(toy_config(out, batch_size=2, limit=5), generator=FakeGenerator(), samples=toy_samples(), bench=BENCH,
                progress=False)
    whole = harness.run(toy_config(tmp_path / "w", batch_size=2, limit=5), generator=FakeGenerator(),
                        samples=toy_samples(), bench=BENCH, progress=False)
    assert RunStore.open(out).meta["summary"] == RunStore.open(whole).meta["summary"]
