"""The update on a tiny Qwen2-VL: loss decreases, frozen vision is unchanged, checkpoints load,
resume after SIGKILL equals an uninterrupted run; schedule and batch arithmetic."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sophia_helpers import make_examples
from sophia_eval.sophia.config import TrainConfig
from sophia_eval.sophia.trainer import FAULT_ENV, freeze_vision, lr_lambda, train

HERE = Path(__file__).parent


def _config(model, out, **kw):
    base = dict(model=str(model), output_dir=str(out), lr=1e-3, global_batch_size=4, micro_batch_size=2,
                epochs=2, gradient_checkpointing=True)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tiny_qwen2vl, image_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("sophia_train")
    result = train(_config(tiny_qwen2vl, out), make_examples(image_path))
    return result


def test_loss_decreases(trained):
    assert trained.losses[-1] < trained.losses[0] - 0.3


def test_vision_tower_and_projector_unchanged(trained, tiny_qwen2vl):
    before, after = load_file(tiny_qwen2vl / "model.safetensors"), load_file(trained.final_dir / "model.safetensors")
    vision = [k for k in before if k.startswith("visual.")]  # Qwen2-VL saves the tower + merger here
    assert vision and all(torch.equal(before[k], after[k]) for k in vision)


def test_language_model_changed(trained, tiny_qwen2vl):
    before, after = load_file(tiny_qwen2vl / "model.safetensors"), load_file(trained.final_dir / "model.safetensors")
    lm = [k for k in before if k.startswith("model.layers.")]
    assert any(not torch.equal(before[k], after[k]) for k in lm)


def test_final_checkpoint_loads_with_from_pretrained(trained):
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(trained.final_dir)
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"


def test_final_checkpoint_generates_through_the_harness_backend(trained, image_path):
    backends = pytest.importorskip("sophia_eval.backends")
    if not hasattr(backends, "make_generator"):
        pytest.fail("sophia_eval.backends.make_generator is missing (contract in docs/CONTRACTS.md)")
    from sophia_eval.backends.base import GenerationConfig

    gen = backends.make_generator("transformers", str(trained.final_dir))
    out = gen.generate([[{"role": "user", "content": [{"type": "image", "image": str(image_path)},
                                                      {"type": "text", "text": "What is 1+3?"}]}]],
                       GenerationConfig(n=1, temperature=0, max_new_tokens=8))
    assert out[0][0].finish_reason in ("stop", "length") and out[0][0].completion_tokens


def test_freeze_vision_leaves_text_model_trainable(tiny_text_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_text_model)
    assert freeze_vision(model) == 0 and all(p.requires_grad for p in model.parameters())


def test_cosine_schedule_ends_at_min_lr_ratio_after_warmup():
    fn = lr_lambda(TrainConfig(model="m", warmup_steps=2, min_lr_ratio=0.25), total_steps=10)
    assert [round(fn(s), 4) for s in (0, 1, 2, 9)] == [0.5, 1.0, 1.0, 0.25]


def test_global_batch_must_divide_evenly_and_error_says_how():
    with pytest.raises(ValueError, match="multiple"):
        TrainConfig(model="m", global_batch_size=512, micro_batch_size=3).accumulation_steps(1)


def test_empty_selection_is_a_clear_error(tiny_qwen2vl, tmp_path):
    with pytest.raises(ValueError, match="selection kept nothing"):
        train(_config(tiny_qwen2vl, tmp_path), [])


def _run_worker(model, image, out, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, str(HERE / "train_worker.py"), str(model), str(image), str(out)],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_resume_after_sigkill_equals_uninterrupted_run(trained, tiny_qwen2vl, image_path, tmp_path):
    # `trained` is the uninterrupted run: same config and data as the worker, minus checkpointing.
    killed = _run_worker(tiny_qwen2vl, image_path, tmp_path / "killed", {FAULT_ENV: "3"})
    assert killed.returncode == -9 and not (tmp_path / "killed" / "final").exists()
    resumed = _run_worker(tiny_qwen2vl, image_path, tmp_path / "killed")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = load_file(trained.final_dir / "model.safetensors")
    b = load_file(tmp_path / "killed" / "final" / "model.safetensors")
    assert json.loads((tmp_path / "killed" / "result.json").read_text())["resumed_from"] == 2
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_missing_tracker_is_named_before_any_work(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("wandb",) else real(name, *a))
    with pytest.raises(ValueError, match="wandb is not installed"):
        train(TrainConfig(model="m", output_dir=str(tmp_path), log_with="wandb"), make_examples(None, 1))


@pytest.mark.slow
def test_image_and_text_only_examples_train_in_one_micro_batch(tiny_qwen2vl, image_path, tmp_path):
    import dataclasses

    mixed = [ex for pair in zip(make_examples(image_path, 2), make_examples(None, 2)) for ex in pair]
    mixed = [dataclasses.replace(ex, source="text") if isinstance(ex.messages[0]["content"], str) else ex
             for ex in mixed]
    result = train(_config(tiny_qwen2vl, tmp_path, global_batch_size=4, micro_batch_size=2, max_steps=1,
                           gradient_checkpointing=False), mixed)
    assert len(result.losses) == 1 and math.isfinite(result.losses[0])


def test_finished_run_is_not_trained_again(trained, tiny_qwen2vl, image_path):
    again = train(_config(tiny_qwen2vl, trained.final_dir.parent), make_examples(image_path))
    assert (again.losses, again.resumed_from) == ([], trained.steps)
