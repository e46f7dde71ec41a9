"""OutcomeReward inside a real TRL GRPOTrainer step: `solution` column as gold, statuses logged.

TRL is not a dependency: the test runs where `trl` imports, or in the interpreter named by
$SOPHIA_EVAL_TRL_PYTHON (a separate venv), and is skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ("python -m venv /tmp/trl-venv && /tmp/trl-venv/bin/pip install torch==2.13.0 && "
           "/tmp/trl-venv/bin/pip install trl sympy latex2sympy2_extended && "
           "export SOPHIA_EVAL_TRL_PYTHON=/tmp/trl-venv/bin/python")
TRL_PYTHON = sys.executable if importlib.util.find_spec("trl") else os.environ.get("SOPHIA_EVAL_TRL_PYTHON")

SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tiny_models
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer
from sophia_eval.reward import OutcomeReward

model = tiny_models.build_text_model(sys.argv[2])
dataset = Dataset.from_list([{"prompt": "What is 2 + 3?", "solution": "5"}] * 4)
reward = OutcomeReward()
args = GRPOConfig(output_dir=sys.argv[2] + "/out", max_steps=1, per_device_train_batch_size=2, num_generations=2,
                  max_completion_length=8, report_to="none", logging_steps=1, use_cpu=True, bf16=False)
trainer = GRPOTrainer(model=str(model), reward_funcs=[reward], args=args, train_dataset=dataset)
trainer.train()
logged = sorted({k for h in trainer.state.log_history for k in h if "outcome_reward" in k})
print(json.dumps({"counts": dict(reward.counts), "logged": logged}))
"""


@pytest.mark.slow
@pytest.mark.skipif(TRL_PYTHON is None, reason=f"TRL not installed; to run this test: {INSTALL}")
def test_grpo_trainer_step_reads_solution_and_logs_statuses(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([TRL_PYTHON, "-c", SCRIPT, str(ROOT / "tests"), str(tmp_path)],  # type: ignore[list-item]
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    statuses = ["bad_gold", "correct", "error", "incorrect", "no_answer", "timeout"]
    assert (sum(out["counts"].values()), out["logged"]) == (
        2, [f"outcome_reward/{s}" for s in statuses] + ["rewards/outcome_reward/mean", "rewards/outcome_reward/std"])
