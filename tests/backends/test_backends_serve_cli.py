"""`sophia-eval serve` as a real subprocess, queried by the openai backend."""

from __future__ import annotations

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


@pytest.mark.slow
def test_serve_command_answers_openai_clients(tiny_text_model, tmp_path):
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sophia_eval.cli import main; main()", "serve", str(tiny_text_model),
         "--port", str(port), "--served-model-name", "tiny", "--opt", "batch_size=2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
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
