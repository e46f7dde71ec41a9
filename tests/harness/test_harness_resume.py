"""A run killed with SIGKILL mid-way (or whose backend failed on some prompts) and resumed gets
exactly the records of an uninterrupted run, with sampled decoding and seed-sensitive generators."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness_fakes import BENCH, SAMPLED, FakeGenerator, SeededFakeGenerator, toy_config, toy_samples

from sophia_eval.harness import runner as harness
from sophia_eval.harness.protocols import get_protocol
from sophia_eval.runs.store import RunStore

FAKES = Path(__file__).with_name("harness_fakes.py")


def _strip(records):
    return [{k: v for k, v in r.items() if k not in harness.TIMING_FIELDS} for r in records]


def _run(out, gen, **kw):
    kw.setdefault("batch_size", 2)
    return harness.run(toy_config(out, **kw), generator=gen, samples=toy_samples(), bench=BENCH, progress=False)


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKES.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(FAKES), str(killed), "0.3"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples_file = killed / "samples.jsonl"
    deadline = time.monotonic() + 60
    lines = 0
    while time.monotonic() < deadline:  # batches of 2 items x 2 samples: kill inside the 2nd batch's records
        lines = samples_file.read_text().count("\n") if samples_file.exists() else 0
        if lines >= 7 and lines % 4 == 3:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = len(list(RunStore.open(killed).records()))
    assert partial % 4 and partial < 24, partial  # killed part-way through a batch's records

    _run(killed, SeededFakeGenerator(), protocol=SAMPLED)
    whole = _run(tmp_path / "whole", SeededFakeGenerator(), protocol=SAMPLED)
    assert _strip(RunStore.open(killed).records()) == _strip(RunStore.open(whole).records())


def test_retried_backend_errors_match_uninterrupted_run(tmp_path):
    out = tmp_path / "r"
    _run(out, SeededFakeGenerator(fail_once_items=[5]), protocol=SAMPLED)
    assert sum(r["status"] == "error" for r in RunStore.open(out).records()) == 2
    _run(out, SeededFakeGenerator(), protocol=SAMPLED)  # retries q5 only
    whole = _run(tmp_path / "whole", SeededFakeGenerator(), protocol=SAMPLED)
    assert _strip(RunStore.open(out).records()) == _strip(RunStore.open(whole).records())


def test_resume_keeps_the_batch_size_the_run_started_with(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        _run(out, _Interrupt(SeededFakeGenerator(), after=2), protocol=SAMPLED, batch_size=3)
    _run(out, SeededFakeGenerator(), protocol=SAMPLED, batch_size=5)
    whole = _run(tmp_path / "whole", SeededFakeGenerator(), protocol=SAMPLED, batch_size=3)
    assert _strip(RunStore.open(out).records()) == _strip(RunStore.open(whole).records())


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


class _Interrupt:
    """Wraps a generator; a flaky item's first completions are errors, and call `after` is
    interrupted like Ctrl-C (a BaseException: the harness does not record it as a backend error)."""

    def __init__(self, inner, after, flaky_item=None):
        self.inner, self.after, self.flaky_item, self.calls = inner, after, flaky_item, 0
        self.name = inner.name

    def describe(self):
        return self.inner.describe()

    def generate(self, convs, cfg):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        out = self.inner.generate(convs, cfg)
        for pos, conv in enumerate(convs):
            if self.flaky_item is not None and f"What is {self.flaky_item} +" in str(conv[-1]["content"]):
                out[pos] = [harness.Completion("", "error", error="CUDA out of memory") for _ in range(cfg.n)]
                self.flaky_item = None
        return out


def test_tiny_transformers_model_resumes_byte_identical(tiny_text_model, tmp_path):
    """Real sampled decoding (temperature 1): one transient per-prompt failure, then an interrupt,
    then a resume give exactly the responses of an uninterrupted run."""
    from sophia_eval.backends import make_generator

    gen = make_generator("transformers", str(tiny_text_model), batch_size=4)
    proto = get_protocol("sophia", n=2, max_new_tokens=12)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        _run(out, _Interrupt(gen, after=2, flaky_item=5), protocol=proto, batch_size=4)
    _run(out, gen, protocol=proto, batch_size=4)
    whole = _run(tmp_path / "whole", gen, protocol=proto, batch_size=4)

    def responses(path):
        return [(r["item_id"], r["sample_index"], r["response"]) for r in RunStore.open(path).records()]

    assert len(responses(whole)) == 24 and len({r[2] for r in responses(whole)}) > 12  # really sampled
    assert responses(out) == responses(whole)
