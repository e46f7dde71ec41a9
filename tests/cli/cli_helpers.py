"""CLI test helpers: run the real `sophia-eval` command in a subprocess against a local
OpenAI-compatible server (`backends.serve.ServerThread`) wrapping a scripted generator.
The `server` fixture is re-exported by this folder's conftest."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sophia_eval.backends.base import Completion

REPO = Path(__file__).resolve().parents[2]


class Scripted:
    """Answers every prompt with a boxed 1 (optionally slowly), or fails every request. With
    `hold_after=k`, requests after the k-th wait until `release` is set (a writer kept busy)."""

    name = "scripted"

    def __init__(self, fail: bool = False, delay_s: float = 0.0, hold_after: int | None = None):
        self.fail, self.delay_s, self.calls, self.hold_after = fail, delay_s, 0, hold_after
        self.lock = threading.Lock()
        self.release = threading.Event()

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def generate(self, conversations, config):
        with self.lock:
            self.calls += 1
            hold = self.hold_after is not None and self.calls > self.hold_after
        if hold:
            self.release.wait(timeout=300)
        if self.fail:
            raise RuntimeError("model crashed")
        time.sleep(self.delay_s)
        return [[Completion("The answer is \\boxed{1}", "stop", prompt_tokens=5, completion_tokens=4)] * config.n
                for _ in conversations]


@pytest.fixture
def server():
    """`server(generator)` -> base URL of a running local server (stopped after the test)."""
    from sophia_eval.backends.serve import ServerThread

    started = []

    def start(generator: Any) -> str:
        thread = ServerThread(generator, model_name="scripted")
        thread.__enter__()
        started.append(thread)
        return thread.base_url

    yield start
    for thread in started:
        thread.__exit__(None, None, None)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200", **extra)
    return env


def sophia_eval(*args: str, cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run `sophia-eval ARGS` as a user would (a new process, output not a terminal)."""
    return subprocess.run([sys.executable, "-c", "from sophia_eval.cli import main; main()", *args], cwd=cwd,
                          env=cli_env(**env), capture_output=True, text=True, timeout=timeout)


def spawn(*args: str, cwd: Path, stdout: Any = subprocess.PIPE, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from sophia_eval.cli import main; main()", *args], cwd=cwd,
                            env=cli_env(**env), stdout=stdout, stderr=subprocess.STDOUT, text=True)


def openai_args(url: str, *more: str) -> list[str]:
    return ["run", "--backend", "openai", "--base-url", url, "-o", "max_retries=0", "--verify-workers", "1", *more]
