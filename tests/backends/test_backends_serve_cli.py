"""`sophia-eval serve` as a real subprocess, queried by the openai backend."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from sophia_eval.backends import make_generator
from sophia_eval.backends.base import GenerationConfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_serve(model, tmp_path, *args: str) -> tuple[subprocess.Popen, int]:
    """`sophia-eval serve MODEL` on a free port, logging to tmp_path/serve.log; waits until it answers."""
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sophia_eval.cli import main; main()", "serve", str(model), "--port", str(port), *args],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    return proc, port


@pytest.mark.slow
def test_serve_command_answers_openai_clients(tiny_text_model, tmp_path):
    proc, port = _start_serve(tiny_text_model, tmp_path, "--served-model-name", "tiny", "--opt", "batch_size=2")
    try:
        remote = make_generator("openai", "tiny", base_url=f"http://127.0.0.1:{port}/v1")
        out = remote.generate([[{"role": "user", "content": "hi"}]], GenerationConfig(n=2, max_new_tokens=3))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert [c.completion_tokens for c in out[0]] == [3, 3], (tmp_path / "serve.log").read_text()


def test_bad_model_path_exits_with_a_clear_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "from sophia_eval.cli import main; main()", "serve", str(tmp_path / "missing")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "does not exist" in " ".join(proc.stderr.split())


@pytest.mark.slow
def test_a_killed_client_stops_its_generation_and_the_next_client_is_served(tiny_text_model, tmp_path):
    # Client A asks for 30000 greedy tokens (the tiny model never emits EOS greedily; about 2000
    # fit in the 3 s below on an idle 2-core machine, so 2000 was too few) and is SIGKILLed
    # mid-request; client B must then be answered, and the server's log must show A's generation
    # cancelled. Without cancellation B waits for A's 30000 tokens.
    # Also: with no --served-model-name the model is listed under its directory's name.
    proc, port = _start_serve(tiny_text_model, tmp_path)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = {"model": "tiny-qwen2", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    client_a = subprocess.Popen(
        [sys.executable, "-c", "import httpx, json, sys; print('sending', flush=True); "
         f"httpx.post({url!r}, json=json.loads(sys.argv[1]), timeout=600)", json.dumps({**body, "max_tokens": 30000})],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).json()
        assert client_a.stdout.readline().strip() == "sending"
        time.sleep(3)  # let A's request reach generation
        client_a.kill()
        client_a.wait(timeout=10)
        b = httpx.post(url, json={**body, "max_tokens": 3}, timeout=300)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    log = (tmp_path / "serve.log").read_text()
    requests = [ln for ln in log.splitlines() if "/v1/chat/completions" in ln]
    assert (b.json()["usage"]["completion_tokens"], models["data"][0]["id"]) == (3, tiny_text_model.name), log
    assert [(" 499 " in ln, " 200 " in ln) for ln in requests] == [(True, False), (False, True)], log
    stopped_after = re.search(r"generation cancelled after (\d+) new tokens", requests[0])
    assert stopped_after and int(stopped_after.group(1)) < 30000, log

