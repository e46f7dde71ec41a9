"""Optional behaviour log-probs: scored once, attached to examples, used by the clipped-IS update."""

import json

import pytest
import torch

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.behaviour import score_behaviour_logprobs
from sophia_eval.sophia.dataset import BEHAVIOUR_FILE
from sophia_eval.sophia.objective import aligned_old_logprobs
from sophia_eval.sophia.config import SelectionConfig, TrainConfig
from sophia_eval.sophia.dataset import TrainExample
from sophia_eval.sophia.pipeline import run_selection, train_examples
from sophia_eval.runs.jsonl import JsonlLog
from sophia_eval.sophia.sampling import TRAJECTORIES_FILE
from sophia_eval.sophia.trainer import train


@pytest.fixture
def selection(tmp_path, image_path):
    items = [Sample(benchmark="t", id=f"q{i}", question=f"What is {i}+1?", answer=str(i + 1),
                    images=(str(image_path),)) for i in range(2)]
    rows = [{"item_id": f"q{i}", "caption_index": 0, "sample_index": 0, "reward": 1.0, "completion_tokens": 4,
             "reasoning": f"The answer is \\boxed{{{i + 1}}}.", "caption": "c"} for i in range(2)]
    JsonlLog(tmp_path / "sampling" / TRAJECTORIES_FILE).append(rows)
    run_selection(tmp_path / "sampling", items, tmp_path / "sel", SelectionConfig())
    return tmp_path / "sel"


def test_scored_logprobs_are_attached_to_the_examples(selection, tiny_qwen2vl):
    score_behaviour_logprobs(selection, str(tiny_qwen2vl), show_progress=False)
    examples = train_examples(selection, TrainConfig(model="m"))
    assert all(ex.old_logprobs and all(x < 0 for x in ex.old_logprobs) for ex in examples)


def test_scoring_is_resumable(selection, tiny_qwen2vl):
    score_behaviour_logprobs(selection, str(tiny_qwen2vl), show_progress=False)
    score_behaviour_logprobs(selection, str(tiny_qwen2vl), show_progress=False)
    assert len((selection / BEHAVIOUR_FILE).read_text().splitlines()) == 2


def test_clipped_is_first_step_against_the_initial_policy_has_ratio_one(selection, tiny_qwen2vl, tmp_path):
    score_behaviour_logprobs(selection, str(tiny_qwen2vl), show_progress=False)
    cfg = TrainConfig(model=str(tiny_qwen2vl), output_dir=str(tmp_path / "t"), objective="clipped_is",
                      global_batch_size=2, max_steps=1, gradient_checkpointing=False)
    result = train(cfg, train_examples(selection, cfg))
    assert result.losses[0] == pytest.approx(-1.0, abs=1e-4)  # -A * rho with A = 1, rho = 1 on every token


def test_stored_count_mismatch_names_the_fix():
    mask = torch.tensor([[False, True, True]])
    with pytest.raises(ValueError, match="score-policy"):
        aligned_old_logprobs([TrainExample(id="x", messages=(), old_logprobs=(-1.0,))], mask)
