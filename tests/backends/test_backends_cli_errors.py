"""Backend set-up errors as the real CLI prints them: one line, with the fix, extras intact."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

CLI = [sys.executable, "-c", "from sophia_eval.cli import main; main()"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.skipif(importlib.util.find_spec("lmms_eval") is not None, reason="lmms-eval is installed here")
def test_serve_install_hint_keeps_the_extra_in_brackets():
    proc = _cli("serve", "--backend", "lmms", "qwen2_vl")
    assert proc.returncode == 2 and "pip install \"sophia-eval[lmms]\"" in _flat(proc.stderr), proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_run_install_hint_keeps_the_extra_in_brackets(tiny_text_model, tmp_path):
    proc = _cli("run", "-b", "mathverse:testmini_text_only", "--backend", "vllm", "-m", str(tiny_text_model),
                "--limit", "1", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "pip install 'sophia-eval[vllm]'" in _flat(proc.stderr), proc.stderr


def test_cuda_device_on_a_cpu_only_torch_is_one_line_with_the_fix(tiny_text_model):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = _cli("serve", str(tiny_text_model), "--port", "0", "--opt", "device=cuda")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert (proc.returncode, len(lines), "Traceback" in proc.stderr) == (2, 1, False), proc.stderr
    assert "device=cpu" in lines[0] and "CUDA" in lines[0]
