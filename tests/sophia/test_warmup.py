"""Warm-up SFT (`sophia-eval sophia warmup`): examples are formatted exactly like SOPHIA's own
prompts, and a warm-up run trains a tiny model end to end through the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sophia_eval.cli import app
from sophia_eval.bench.prompts import SYSTEM_PROMPTS
from sophia_eval.bench.sample import Sample
from sophia_eval.sophia import prompts
from sophia_eval.sophia.warmup import WarmupDataError, load_warmup_file, warmup_examples


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _sample(question: str, images: tuple[str, ...] = ()) -> Sample:
    return Sample(benchmark="x", id="1", question=question, answer="", images=images)


def test_harness_rows_get_the_sophia_training_prompt(tmp_path, image_path):
    f = _write(tmp_path / "vqa.jsonl", [{"images": [str(image_path)], "question": "How many?", "response": "\\boxed{2}"}])
    ex = load_warmup_file(f)[0]
    expected = prompts.training_messages(_sample("How many?", (str(image_path),)), "\\boxed{2}")
    assert list(ex.messages) == expected
    assert "Put the final answer in \\boxed{}." in ex.messages[-2]["content"][-1]["text"]  # the harness template
    assert ex.weight == 1.0 and ex.source == "warmup_harness"


def test_think_responses_get_the_slow_thinking_system_prompt_like_sophia_examples(tmp_path):
    f = _write(tmp_path / "text.jsonl", [{"question": "1+1?", "response": "<think>1+1=2</think> \\boxed{2}"},
                                         {"question": "2+2?", "response": "\\boxed{4}"}])
    slow, plain = load_warmup_file(f)
    assert slow.messages[0] == {"role": "system", "content": SYSTEM_PROMPTS["sophia_slow_thinking"]}
    assert plain.messages[0]["role"] == "user"
    forced = load_warmup_file(f, system_prompt="default")
    assert all(ex.messages[0]["role"] == "user" for ex in forced)


def test_caption_and_reasoning_rows_use_the_sampling_prompts(tmp_path, image_path):
    f = _write(tmp_path / "mix.jsonl", [
        {"prompt": "caption", "images": [str(image_path)], "response": "A red square."},
        {"prompt": "reasoning", "caption": "A red square.", "question": "How many sides?", "response": "4 sides. \\boxed{4}"},
    ])
    cap, rsn = load_warmup_file(f)
    assert list(cap.messages[:-1]) == prompts.caption_messages(_sample("", (str(image_path),)))
    assert list(rsn.messages[:-1]) == prompts.reasoning_messages(_sample("How many sides?"), "A red square.")
    assert cap.messages[-1] == {"role": "assistant", "content": "A red square."}


def test_relative_image_paths_resolve_against_the_file(tmp_path, image_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(image_path.read_bytes())
    f = _write(tmp_path / "vqa.jsonl", [{"images": ["imgs/a.png"], "question": "Q?", "response": "R"}])
    assert load_warmup_file(f)[0].messages[-2]["content"][0]["image"] == str(tmp_path / "imgs" / "a.png")


@pytest.mark.parametrize("row, message", [
    ({"question": "q", "response": "r", "weight": 2}, "unknown key(s) ['weight']"),
    ({"question": "q"}, "`response` must be a non-empty string"),
    ({"question": "q", "response": "r", "prompt": "chat"}, "prompt must be one of"),
    ({"prompt": "reasoning", "question": "q", "response": "r"}, "needs a string `caption`"),
    ({"response": "r"}, "`question` must be a non-empty string"),
    ({"question": "q", "response": "r", "images": ["missing.png"]}, "not found"),
])
def test_bad_rows_are_named_with_file_and_line(tmp_path, row, message):
    f = _write(tmp_path / "bad.jsonl", [{"question": "ok", "response": "fine"}, row])
    with pytest.raises(WarmupDataError, match=re.escape(message)) as info:
        load_warmup_file(f)
    assert f"{f}:2" in str(info.value)


def test_no_files_is_an_error():
    with pytest.raises(WarmupDataError, match="at least one JSONL"):
        warmup_examples([])


@pytest.mark.slow
def test_cli_warmup_trains_a_tiny_vlm_without_any_selection(tmp_path, image_path, tiny_llava):
    f = _write(tmp_path / "mix.jsonl", [
        {"prompt": "caption", "images": [str(image_path)], "response": "A red square."},
        {"images": [str(image_path)], "question": "What colour?", "response": "\\boxed{red}"},
        {"question": "What is 2+2?", "response": "2+2=4. \\boxed{4}"},
        {"prompt": "reasoning", "caption": "A red square.", "question": "Sides?", "response": "4. \\boxed{4}"},
    ])
    out = tmp_path / "warm"
    res = CliRunner().invoke(app, ["sophia", "warmup", "--data", str(f), "--model", str(tiny_llava), "--out", str(out),
                                   "--max-steps", "2", "--global-batch-size", "2", "--micro-batch-size", "1",
                                   "--lr", "1e-3", "--train-vision", "--mixed-precision", "no"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{"):])
    assert summary["steps"] == 2 and len(summary["losses"]) == 2
    done = json.loads((out / "final" / "sophia_train.json").read_text())
    assert done["config"]["freeze_vision"] is False and done["n_examples"] == 4

    from safetensors.torch import load_file

    before, after = load_file(tiny_llava / "model.safetensors"), load_file(out / "final" / "model.safetensors")
    changed = {k for k in before if k in after and not (before[k] == after[k]).all()}
    assert any("vision_tower" in k for k in changed)  # --train-vision: the tower is trained too
    assert any("language_model" in k for k in changed)


def test_cli_warmup_bad_file_is_a_one_line_error(tmp_path):
    res = CliRunner().invoke(app, ["sophia", "warmup", "--data", str(tmp_path / "none.jsonl"), "--model", "x",
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "warm-up file not found" in res.output


def test_sophia_update_mix_rows_get_the_same_formatting(tmp_path):
    from sophia_eval.sophia.dataset import load_mix_file

    f = _write(tmp_path / "text.jsonl", [{"question": "1+1?", "response": "<think>2</think> \\boxed{2}"}])
    (ex,) = load_mix_file(f, "text")
    assert list(ex.messages) == prompts.training_messages(_sample("1+1?"), "<think>2</think> \\boxed{2}")
    assert ex.messages[0]["role"] == "system" and ex.source == "text"


def test_caption_and_reasoning_rows_follow_the_recipe_prompts(tmp_path, image_path):
    from sophia_eval.sophia.config import PromptConfig

    custom = PromptConfig(caption="List the shapes.", reasoning="Shapes: {caption}\n{question}")
    f = _write(tmp_path / "mix.jsonl", [
        {"prompt": "caption", "images": [str(image_path)], "response": "A red square."},
        {"prompt": "reasoning", "caption": "A red square.", "question": "How many sides?", "response": "4 sides. \\boxed{4}"},
    ])
    cap, rsn = load_warmup_file(f, prompts=custom)
    assert cap.messages[0]["content"][-1] == {"type": "text", "text": "List the shapes."}
    assert rsn.messages[0]["content"].startswith("Shapes: A red square.\nHow many sides?")
