"""Shipped recipes and Accelerate configs parse and validate; CLI error paths are one-liners."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sophia_eval.cli import app
from sophia_eval.sophia.config import TrainConfig, load_recipe

TRAIN = Path(__file__).resolve().parents[2] / "train"


@pytest.mark.parametrize("name", ["internvl3_8b.yaml", "internvl3_38b.yaml"])
def test_recipe_validates_with_the_paper_hyperparameters(name):
    r = load_recipe(TRAIN / "recipes" / name)
    t: TrainConfig = r["train"]
    assert (t.lr, t.min_lr_ratio, t.weight_decay, t.global_batch_size, r["selection"].alpha,
            r["sampling"].num_captions, r["sampling"].num_reasonings, r["grpo"].lr) == (
        2e-5, 0.25, 0.05, 512, 0.75, 8, 8, 5e-7)


@pytest.mark.parametrize("name", ["zero3.yaml", "fsdp.yaml", "multi_gpu_ddp.yaml"])
def test_accelerate_configs_are_yaml_with_a_distributed_type(name):
    assert yaml.safe_load((TRAIN / "accelerate" / name).read_text())["distributed_type"]


def test_recipe_typo_is_named(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("train:\n  learning_rate: 1e-5\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_recipe(path)


def test_cli_missing_training_set_is_a_one_line_error(tmp_path):
    res = CliRunner().invoke(app, ["sophia", "sample", "--items", str(tmp_path / "none.jsonl"), "--policy", "x",
                                   "--reasoner", "y", "--out", str(tmp_path / "s")])
    assert res.exit_code == 2 and "training set not found" in res.output


def test_cli_unreachable_reasoner_is_a_clear_error_before_the_policy_loads(tmp_path, image_path):
    items = tmp_path / "t.jsonl"
    items.write_text(f'{{"image": "{image_path}", "question": "q?", "answer": "1"}}\n')
    res = CliRunner().invoke(app, [
        "sophia", "sample", "--items", str(items), "--policy", str(tmp_path / "never-loaded"),
        "--reasoner", "qwq", "--reasoner-url", "http://127.0.0.1:9/v1", "--reasoner-option", "max_retries=0",
        "--out", str(tmp_path / "s"), "-K", "1", "-N", "1"])
    assert res.exit_code == 2 and "reasoner" in res.output and "cannot reach" in res.output, res.output


@pytest.mark.slow
def test_cli_sample_takes_models_and_backends_from_the_recipe(tmp_path, image_path, tiny_qwen2vl, tiny_text_model):
    items = tmp_path / "t.jsonl"
    items.write_text(f'{{"image": "{image_path}", "question": "What is 1+1?", "answer": "2"}}\n')
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"policy: {tiny_qwen2vl}\npolicy_backend: transformers\nreasoner: {tiny_text_model}\n"
                      f"reasoner_backend: transformers\nitems: {items}\nsampling:\n  num_captions: 1\n"
                      "  num_reasonings: 2\n  caption_max_new_tokens: 4\n  reasoning_max_new_tokens: 4\n")
    res = CliRunner().invoke(app, ["sophia", "sample", "-r", str(recipe), "--out", str(tmp_path / "s")])
    assert res.exit_code == 0 and '"trajectories_total": 2' in res.output, res.output


@pytest.mark.parametrize("name", ["internvl3_8b.yaml", "internvl3_38b.yaml"])
def test_recipes_evaluate_the_trained_model_with_the_slow_thinking_prompt(name):
    from sophia_eval.harness.protocols import get_protocol
    from sophia_eval.sophia.pipeline import EvalSpec

    r = load_recipe(TRAIN / "recipes" / name)
    assert r["eval"]["protocol"] == EvalSpec("b").protocol == "sophia_model"
    assert get_protocol("sophia_model").system_prompt  # the slow-thinking one
    # the documented reasoner server splits QwQ/R1 thinking out, so trajectories keep <think>
    assert "--reasoning-parser deepseek_r1" in (TRAIN / "recipes" / name).read_text()


def test_cli_round_passes_backend_options_and_threads(tmp_path, monkeypatch, image_path):
    import torch

    import sophia_eval.backends as backends
    from sophia_eval.backends.base import BackendError

    items = tmp_path / "t.jsonl"
    items.write_text(f'{{"image": "{image_path}", "question": "q?", "answer": "1"}}\n')
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"policy: p\npolicy_backend: vllm\nreasoner: q\nreasoner_backend: openai\nitems: {items}\n")
    made = []

    def fake_make_generator(backend, model, **opts):
        made.append((backend, model, opts))
        if model == "p":
            raise BackendError("stop here: options recorded")
        return object()

    monkeypatch.setattr(backends, "make_generator", fake_make_generator)
    before = torch.get_num_threads()
    try:
        res = CliRunner().invoke(app, [
            "sophia", "round", "-r", str(recipe), "--out", str(tmp_path / "r"), "--threads", "1",
            "--reasoner-url", "http://h:1/v1", "--reasoner-option", "max_retries=0",
            "--policy-option", "tensor_parallel_size=2", "--policy-option", "dtype=bfloat16"])
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert res.exit_code == 2 and "stop here" in res.output, res.output
    assert made[0] == ("openai", "q", {"max_retries": 0, "base_url": "http://h:1/v1"})
    assert made[1] == ("vllm", "p", {"tensor_parallel_size": 2, "dtype": "bfloat16"})
    assert threads == 1


def test_recipe_prompts_section_becomes_a_prompt_config_and_typos_are_named(tmp_path):
    from sophia_eval.sophia.config import PromptConfig, load_recipe

    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("prompts:\n  caption: List the shapes.\n")
    bad.write_text("prompts:\n  captoin: List the shapes.\n")
    assert load_recipe(good)["prompts"] == PromptConfig(caption="List the shapes.")
    with pytest.raises(ValueError, match=r"bad.yaml \[prompts\]: unknown key\(s\) \['captoin'\]"):
        load_recipe(bad)
