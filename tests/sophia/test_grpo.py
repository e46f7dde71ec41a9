"""GRPO: group-normalised advantages, dynamic filtering, pass-rate filter, and a real loop on a
tiny text model (the reward is injected so groups are mixed; the default is the verifier)."""

import math
import warnings

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


def test_a_step_whose_groups_all_tie_advances_the_schedule_without_a_warning(tiny_text_model, tmp_path):
    train = TrainConfig(model=str(tiny_text_model), output_dir=str(tmp_path), gradient_checkpointing=False,
                        mixed_precision="no")
    cfg = GRPOConfig(questions_per_step=2, rollouts=4, max_new_tokens=4, lr=1e-3, warmup_steps=0, min_lr_ratio=0.25,
                     max_refill_rounds=0)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = grpo_train(train, cfg, ITEMS, steps=2, reward_fn=lambda samples, texts: [1.0] * len(texts),
                            generator=ScriptedGenerator(), sync_weights=lambda path: None)
    assert result.kept_groups == [0, 0] and result.lrs[1] < result.lrs[0]
    assert not [str(w.message) for w in seen if "lr_scheduler" in str(w.message)]


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


ITEMS = [Sample(benchmark="t", id=str(i), question=f"What is {i}+1?", answer=str(i + 1)) for i in range(6)]


class ScriptedGenerator:
    """A served policy stand-in (the Generator interface): sample j of a question says `j`."""

    name = "scripted"

    def __init__(self):
        self.configs = []

    def describe(self):
        return {"backend": "scripted", "model": "policy"}

    def generate(self, conversations, config):
        from sophia_eval.backends.base import Completion

        self.configs.append(config)
        return [[Completion(text=f"The answer is \\boxed{{{j}}}.", finish_reason="stop") for j in range(config.n)]
                for _ in conversations]


def _question(sample):
    return int(sample.question.split("What is ")[1].split("+")[0])


def _odd_questions_mixed(samples, texts):
    """Even questions: every rollout correct (no signal, dropped); odd: alternate right and wrong."""
    return [1.0 if _question(s) % 2 == 0 else float(t.count("{0}") + t.count("{2}")) for s, t in zip(samples, texts)]


def _grpo(model, out, *, steps=1, micro=2, generator=None, sync=None, **grpo):
    train = TrainConfig(model=str(model), output_dir=str(out), gradient_checkpointing=False, micro_batch_size=micro,
                        mixed_precision="no")
    cfg = GRPOConfig(**{"questions_per_step": 2, "rollouts": 4, "max_new_tokens": 4, "lr": 1e-3, **grpo})
    gen = generator or ScriptedGenerator()
    return grpo_train(train, cfg, ITEMS, steps=steps, reward_fn=_odd_questions_mixed, generator=gen,
                      sync_weights=sync or (lambda path: None))


def test_paper_top_p_is_the_default():
    assert GRPOConfig().top_p == 0.8


def test_rollouts_come_through_the_generator_and_weights_are_synced(tiny_text_model, tmp_path):
    gen, synced = ScriptedGenerator(), []
    _grpo(tiny_text_model, tmp_path, steps=2, generator=gen, sync=lambda p: synced.append(p))
    assert gen.configs and all((c.n, c.top_p, c.max_new_tokens) == (4, 0.8, 4) for c in gen.configs)
    assert synced == [tmp_path / "rollout_policy"] and (synced[0] / "config.json").exists()


def test_a_served_generator_without_weight_sync_is_refused(tiny_text_model, tmp_path):
    with pytest.raises(ValueError, match="sync_weights"):
        grpo_train(TrainConfig(model=str(tiny_text_model), output_dir=str(tmp_path)), GRPOConfig(), ITEMS, steps=1,
                   generator=ScriptedGenerator())


def test_dropped_groups_are_refilled(tiny_text_model, tmp_path):
    refilled = _grpo(tiny_text_model, tmp_path / "a", questions_per_step=2, max_refill_rounds=3)
    alone = _grpo(tiny_text_model, tmp_path / "b", questions_per_step=2, max_refill_rounds=0)
    assert refilled.kept_groups == [2] and alone.kept_groups[0] < 2


def test_micro_batching_gives_the_same_update(tiny_text_model, tmp_path):
    one = _grpo(tiny_text_model, tmp_path / "m1", micro=1, max_refill_rounds=3)
    four = _grpo(tiny_text_model, tmp_path / "m4", micro=4, max_refill_rounds=3)
    # the gradient of the step is the same (Adam's first step would amplify float noise in weights)
    assert one.grad_norms[0] > 0 and one.grad_norms == pytest.approx(four.grad_norms, rel=1e-5)


def test_learning_rate_follows_the_cosine_schedule(tiny_text_model, tmp_path):
    from sophia_eval.sophia.trainer import lr_lambda

    cfg = dict(lr=1e-3, min_lr_ratio=0.25, warmup_steps=1)
    result = _grpo(tiny_text_model, tmp_path, steps=4, **cfg)
    fn = lr_lambda(GRPOConfig(**cfg), 4)
    assert result.lrs == pytest.approx([1e-3 * fn(s) for s in range(4)]) and result.lrs[-1] == pytest.approx(2.5e-4)


@pytest.mark.slow
def test_grpo_resume_after_sigkill_equals_uninterrupted_run(tiny_text_model, tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from sophia_eval.sophia.trainer import FAULT_ENV

    worker = Path(__file__).parent / "grpo_worker.py"

    def run(out, **env):
        return subprocess.run([sys.executable, str(worker), str(tiny_text_model), str(out)],
                              env={**os.environ, **env}, capture_output=True, text=True, timeout=300)

    full = run(tmp_path / "full")
    assert full.returncode == 0, full.stderr[-2000:]
    killed = run(tmp_path / "killed", **{FAULT_ENV: "1"})
    assert killed.returncode == -9 and not (tmp_path / "killed" / "final").exists()
    resumed = run(tmp_path / "killed")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((tmp_path / "killed" / "result.json").read_text())["resumed_from"] == 1
    a = load_file(tmp_path / "full" / "final" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "final" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_rollouts_from_a_project_backend_reloaded_on_each_steps_weights(tiny_text_model, tmp_path):
    from sophia_eval.sophia.grpo import ReloadingGenerator

    gen = ReloadingGenerator("transformers", str(tiny_text_model))
    result = _grpo(tiny_text_model, tmp_path, steps=2, generator=gen, sync=gen.sync, max_new_tokens=3,
                   max_refill_rounds=3)
    assert gen.loads == 2 and gen.inner.describe()["model"].endswith("rollout_policy")
    assert len(result.kept_groups) == 2
