"""DeepSpeed ZeRO-3 in one CPU process with the repository's own launcher config
(train/accelerate/zero3.yaml + ds_zero3.json): a tiny Qwen2.5-VL, whose composite config has no
top-level hidden_size (Accelerate cannot size the "auto" buckets itself), starts, trains with the
tower frozen, is killed after step 3 and resumes from its step-2 checkpoint to the same weights
as an uninterrupted run."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sophia_eval.sophia.trainer import FAULT_ENV, _is_vision_param

HERE = Path(__file__).parent
REPO = HERE.parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                       reason="DeepSpeed is not installed; to run this test: DS_BUILD_OPS=0 pip install deepspeed "
                              "(into a venv with the CPU torch build: pip install torch==2.13.0 first)"),
]


def _launch(model, image, out, port, env_extra=None):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.fail("the `accelerate` launcher is not beside the Python interpreter")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env_extra or {})}
    return subprocess.run([accelerate, "launch", "--config_file", str(REPO / "train/accelerate/zero3.yaml"),
                           "--num_processes", "1", "--main_process_port", str(port),
                           str(HERE / "zero3_worker.py"), str(model), str(image), str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def uninterrupted(tiny_qwen25vl, image_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("zero3_full")
    proc = _launch(tiny_qwen25vl, image_path, out, 29631)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def test_zero3_starts_and_trains_a_composite_vlm(uninterrupted, tiny_qwen25vl):
    out, stdout = uninterrupted
    assert (out / "checkpoint-2" / "accelerate" / "pytorch_model").is_dir()  # DeepSpeed's sharded layout
    result = json.loads((out / "result.json").read_text())
    assert result["steps"] == 4 and result["losses"][-1] < result["losses"][0]
    frozen = int(stdout.split("frozen vision params: ")[1].split()[0].rstrip(";"))
    before = load_file(tiny_qwen25vl / "model.safetensors")
    assert frozen == sum(v.numel() for k, v in before.items() if _is_vision_param(k)) > 0
    after = load_file(out / "final" / "model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before if _is_vision_param(k))


def test_zero3_resumes_after_sigkill_to_the_same_weights(uninterrupted, tiny_qwen25vl, image_path, tmp_path):
    killed = _launch(tiny_qwen25vl, image_path, tmp_path, 29632, {FAULT_ENV: "3"})
    assert killed.returncode != 0 and not (tmp_path / "final").exists()
    resumed = _launch(tiny_qwen25vl, image_path, tmp_path, 29633)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((tmp_path / "result.json").read_text())["resumed_from"] == 2
    a = load_file(uninterrupted[0] / "final" / "model.safetensors")
    b = load_file(tmp_path / "final" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
