"""The whole round on CPU with the real transformers backend: tiny Qwen2-VL as policy (captions and
update), tiny Qwen2 text model as reasoner; then the trained checkpoint evaluated by the harness.

The tiny models are random, so their answers are wrong: the SOPHIA rule correctly keeps nothing
(asserted), and the round trains on the `random` ablation's picks to exercise the update."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sophia_eval.cli import app
from sophia_eval.sophia.config import SamplingConfig, SelectionConfig, TrainConfig
from sophia_eval.sophia.items import load_training_items
from sophia_eval.sophia.pipeline import EvalSpec, evaluate, run_round, run_selection
from sophia_eval.sophia.selection import EmptySelectionError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def items_file(tmp_path_factory, image_path):
    root = tmp_path_factory.mktemp("sophia_items")
    rows = [{"id": f"q{i}", "image": str(image_path), "question": f"What is {i} + 3?", "answer": str(i + 3),
             "answer_type": "numeric"} for i in range(4)]
    path = root / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def round_result(tmp_path_factory, items_file, tiny_qwen2vl, tiny_text_model):
    from sophia_eval.backends import make_generator

    root = tmp_path_factory.mktemp("sophia_round")
    result = run_round(
        load_training_items(items_file),
        policy=make_generator("transformers", str(tiny_qwen2vl), device="cpu", dtype="float32"),
        reasoner=make_generator("transformers", str(tiny_text_model), device="cpu", dtype="float32"),
        round_dir=root,
        sampling=SamplingConfig(num_captions=2, num_reasonings=2, caption_max_new_tokens=12,
                                reasoning_max_new_tokens=16, batch_size=4),
        selection=SelectionConfig(variant="random", length_unit="tokens"),
        train=TrainConfig(model=str(tiny_qwen2vl), lr=1e-3, global_batch_size=2, micro_batch_size=1, epochs=2,
                          gradient_checkpointing=False),
        progress=False)
    return root, result


def test_round_samples_k_captions_and_n_reasonings_with_rewards(round_result):
    _, result = round_result
    sampling = result["sampling"]
    assert (sampling["captions_total"], sampling["trajectories_total"], sum(sampling["status_counts"].values())) == (
        8, 16, 16)


def test_sophia_rule_keeps_nothing_from_wrong_answers_and_says_why(round_result, items_file, tmp_path):
    root, _ = round_result
    with pytest.raises(EmptySelectionError, match="lower alpha"):
        run_selection(root / "sampling", load_training_items(items_file), tmp_path, SelectionConfig())


def test_round_trains_and_writes_an_hf_checkpoint(round_result):
    _, result = round_result
    assert len(result["train_losses"]) == 4 and (Path(result["final_dir"]) / "model.safetensors").exists()


def test_trained_checkpoint_is_evaluated_by_the_harness(round_result, items_file, tmp_path):
    _, result = round_result
    run_dir = evaluate(result["final_dir"], EvalSpec("mathvision", max_new_tokens=8, n=1), tmp_path / "eval",
                       samples=load_training_items(items_file), progress=False)
    run = json.loads((run_dir / "run.json").read_text())
    assert (run["status"], run["summary"]["n_items"]) == ("complete", 4)
    # a SOPHIA-trained model is evaluated under the slow-thinking system prompt it was trained with
    assert run["config"]["protocol"]["name"] == "sophia_model" and run["config"]["system_prompt"]


def test_cli_select_then_train(round_result, items_file, tiny_qwen2vl, tmp_path):
    root, _ = round_result
    runner = CliRunner()
    sel = runner.invoke(app, ["sophia", "select", "--sampling", str(root / "sampling"), "--items", str(items_file),
                              "--out", str(tmp_path / "sel"), "--variant", "random", "--keep", "2"])
    assert sel.exit_code == 0 and json.loads(sel.output)["n_selected"] == 8, sel.output
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"policy: {tiny_qwen2vl}\ntrain:\n  gradient_checkpointing: false\n  lr: 1.0e-3\n")
    res = runner.invoke(app, ["sophia", "train", "--selection", str(tmp_path / "sel"), "--recipe", str(recipe),
                              "--out", str(tmp_path / "train"), "--global-batch-size", "4", "--max-steps", "1"])
    assert res.exit_code == 0 and (tmp_path / "train" / "final" / "config.json").exists(), res.output


def test_cli_empty_selection_exits_with_a_one_line_error(round_result, items_file, tmp_path):
    root, _ = round_result
    res = CliRunner().invoke(app, ["sophia", "select", "--sampling", str(root / "sampling"), "--items",
                                   str(items_file), "--out", str(tmp_path / "sel")])
    assert res.exit_code == 2 and "selection kept nothing" in res.output


def test_cli_round_runs_all_stages_from_a_recipe(items_file, tiny_qwen2vl, tiny_text_model, tmp_path):
    recipe = tmp_path / "round.yaml"
    recipe.write_text(
        f"policy: {tiny_qwen2vl}\npolicy_backend: transformers\nreasoner: {tiny_text_model}\n"
        f"reasoner_backend: transformers\nitems: {items_file}\n"
        "sampling: {num_captions: 2, num_reasonings: 2, caption_max_new_tokens: 6, reasoning_max_new_tokens: 6}\n"
        "selection: {variant: random}\n"
        "train: {lr: 1.0e-3, global_batch_size: 2, micro_batch_size: 1, max_steps: 1, gradient_checkpointing: false}\n")
    res = CliRunner().invoke(app, ["sophia", "round", "-r", str(recipe), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0 and (tmp_path / "r" / "train" / "final" / "model.safetensors").exists(), res.output
