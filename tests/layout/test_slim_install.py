"""The slim install: `pip install .` without extras gives the verifier and the reward, and none of
the heavy stack (issue 11). Builds a fresh venv from PyPI, so it is slow."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "datasets", "pandas", "pyarrow", "numpy", "accelerate", "pillow")


@pytest.mark.slow
def test_slim_install_has_the_reward_and_no_heavy_stack(tmp_path):
    env_dir = tmp_path / "slim"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO)], check=True, cwd=tmp_path)
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], check=True, capture_output=True,
                            text=True).stdout
    installed = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert sorted(installed & set(HEAVY)) == []
    code = ("from sophia_eval import OutcomeReward\n"
            "print(OutcomeReward()(completions=['so \\\\boxed{6}', 'so \\\\boxed{7}'], answer=['6', '6']))\n")
    out = subprocess.run([str(python), "-c", code], check=True,
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == "[1.0, 0.0]"
    # A command that needs the harness says which extra to install.
    run = subprocess.run([str(env_dir / "bin" / "sophia-eval"), "run", "-m", "x", "-b", "mathvision"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2
    assert "pip install 'sophia-eval[eval]'" in run.stderr
