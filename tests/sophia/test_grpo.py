"""GRPO: group-normalised advantages, dynamic filtering, pass-rate filter, and a real loop on a
tiny text model (the reward is injected so groups are mixed; the default is the verifier)."""

import math

import pytest
import torch
from safetensors.torch import load_file

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import GRPOConfig, TrainConfig
from sophia_eval.sophia.grpo import filter_by_pass_rate, group_advantages, grpo_train, pass_rates


def test_group_advantage_is_normalised_within_the_group():
    adv = group_advantages([1.0, 0.0, 0.0, 1.0])
    assert [round(a, 4) for a in adv] == [1.0, -1.0, -1.0, 1.0]


def test_all_correct_and_all_wrong_groups_are_dropped():
    assert (group_advantages([1.0] * 4), group_advantages([0.0, None, 0.0])) == (None, None)


def test_pass_rate_filter_keeps_the_closed_interval():
    items = [Sample(benchmark="t", id=str(i), question="q", answer="1") for i in range(5)]
    rates = pass_rates([{"item_id": str(i), "reward": r} for i, rs in enumerate(
        [[1, 1], [1, 0, 0, 0, 0], [1, 0], [0, 0], [1, 1, 0]]) for r in rs])
    kept = filter_by_pass_rate(items, rates, GRPOConfig(min_pass_rate=0.4, max_pass_rate=0.6))
    assert [s.id for s in kept] == ["2"]


def test_config_rejects_a_group_of_one():
    with pytest.raises(ValueError, match="rollouts >= 2"):
        GRPOConfig(rollouts=1)


@pytest.mark.slow
def test_grpo_loop_updates_the_policy_on_mixed_groups(tiny_text_model, tmp_path):
    items = [Sample(benchmark="t", id=str(i), question=f"What is {i}+1?", answer=str(i + 1)) for i in range(2)]
    result = grpo_train(
        TrainConfig(model=str(tiny_text_model), output_dir=str(tmp_path), gradient_checkpointing=False),
        GRPOConfig(questions_per_step=2, rollouts=4, max_new_tokens=6, lr=1e-3, epochs_per_batch=2),
        items, steps=1, reward_fn=lambda samples, texts: [float(len(t) % 2) for t in texts])
    before = load_file(tiny_text_model / "model.safetensors")
    after = load_file(result.final_dir / "model.safetensors")
    assert sum(result.kept_groups) > 0 and all(math.isfinite(l) for l in result.losses if l == l)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_pass_rates_read_harness_records_with_correct():
    rates = pass_rates([{"item_id": "a", "correct": True}, {"item_id": "a", "correct": False},
                        {"item_id": "a", "correct": None}, {"item_id": "a", "correct": True}])
    assert rates == {"a": 0.5}
