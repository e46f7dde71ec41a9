"""Training-set loading, the sampling prompts, and outcome/caption rewards through the verifier."""

import json
import re

import pytest

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.items import TrainingSetError, load_training_items
from sophia_eval.sophia.prompts import caption_messages, reasoning_messages, training_messages
from sophia_eval.sophia.rewards import caption_rewards, score_texts


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_items_resolve_images_relative_to_the_file_and_keep_metadata(tmp_path, image_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(image_path.read_bytes())
    path = _write(tmp_path / "train.jsonl", [{"id": "q1", "image": "imgs/a.png", "question": "Area?",
                                             "answer": "6", "answer_type": "numeric", "tolerance": 0.01}])
    [item] = load_training_items(path)
    assert (item.images, item.answer_type, item.tolerance, item.source) == (
        (str(tmp_path / "imgs" / "a.png"),), "numeric", 0.01, f"{path}:1")


def test_items_missing_image_names_file_line_and_path(tmp_path):
    path = _write(tmp_path / "t.jsonl", [{"image": "nope.png", "question": "q", "answer": "1"}])
    with pytest.raises(TrainingSetError, match=r"t\.jsonl:1: image 'nope.png' not found"):
        load_training_items(path)


def test_items_unknown_key_is_rejected(tmp_path):
    path = _write(tmp_path / "t.jsonl", [{"question": "q", "answer": "1", "tolerence": 0.1}])
    with pytest.raises(TrainingSetError, match="tolerence"):
        load_training_items(path)


def test_items_duplicate_ids_are_rejected(tmp_path):
    path = _write(tmp_path / "t.jsonl", [{"id": 1, "question": "q", "answer": "1"}, {"id": "1", "question": "r", "answer": "2"}])
    with pytest.raises(TrainingSetError, match="duplicate id '1'"):
        load_training_items(path)


SAMPLE = Sample(benchmark="t", id="1", question="How long is CM?", answer="5", images=("img.png",))


def test_caption_prompt_withholds_the_question():
    text = json.dumps(caption_messages(SAMPLE))
    assert "img.png" in text and "How long is CM" not in text


def test_reasoning_prompt_has_caption_question_one_shot_and_boxed():
    text = reasoning_messages(SAMPLE, "A right triangle.")[0]["content"]
    assert all(s in text for s in ("A right triangle.", "How long is CM?", "Example.", "\\boxed{}"))


def test_training_prompt_is_the_original_question_with_image_not_the_caption():
    msgs = training_messages(SAMPLE, "The answer is \\boxed{5}.")
    user = json.dumps(msgs[-2])
    assert ("img.png" in user, "description" in user.lower(), msgs[-1]["role"]) == (True, False, "assistant")


def test_think_trajectory_is_trained_under_the_slow_thinking_system_prompt():
    msgs = training_messages(SAMPLE, "<think>hmm</think> The answer is \\boxed{5}.")
    assert msgs[0]["role"] == "system" and "<think>" in msgs[0]["content"]


def test_plain_trajectory_keeps_the_model_default_system_prompt():
    assert training_messages(SAMPLE, "The answer is \\boxed{5}.")[0]["role"] == "user"


def test_outcome_reward_uses_item_metadata():
    s = Sample(benchmark="t", id="1", question="q", answer="2.0", answer_type="numeric", tolerance=0.1)
    scores = score_texts([s, s], ["so \\boxed{2.05}", "so \\boxed{2.5}"])
    assert [x["reward"] for x in scores] == [1.0, 0.0]


def test_outcome_reward_wrong_answer_is_zero_and_keeps_the_verdict_status():
    [score] = score_texts([SAMPLE], ["I am not sure, maybe \\boxed{7}."])
    assert (score["reward"], score["status"], score["extracted"]) == (0.0, "incorrect", "7")


def test_caption_reward_is_mean_of_its_reasoning_rewards():
    trajs = [{"item_id": "1", "caption_index": 0, "reward": r} for r in (1.0, 0.0, 1.0, 1.0)]
    assert caption_rewards(trajs)[("1", 0)]["reward"] == 0.75


def test_builtin_prompts_are_used_when_the_recipe_sets_none():
    from sophia_eval.sophia.config import PromptConfig
    from sophia_eval.sophia.prompts import PROMPT_VERSION, prompt_version

    assert (caption_messages(SAMPLE, PromptConfig()), reasoning_messages(SAMPLE, "c", PromptConfig()),
            prompt_version(PromptConfig())) == (caption_messages(SAMPLE), reasoning_messages(SAMPLE, "c"), PROMPT_VERSION)


def test_a_custom_reasoning_template_keeps_literal_braces():
    from sophia_eval.sophia.config import PromptConfig

    msgs = reasoning_messages(SAMPLE, "c", PromptConfig(reasoning="{caption} | {question} | end in \\boxed{{}}"))
    assert msgs[0]["content"].startswith("c | ") and msgs[0]["content"].endswith("| end in \\boxed{}")


@pytest.mark.parametrize("kw,message", [
    ({"reasoning": "Q: {question}"}, "must contain {caption}"),
    ({"reasoning": "{caption} {question} {hint}"}, "only {caption} and {question}"),
    ({"reasoning": "{caption} {question} \\boxed{}"}, "only {caption} and {question}"),
    ({"caption": "  "}, "non-empty"),
])
def test_bad_prompt_configs_say_the_fix(kw, message):
    from sophia_eval.sophia.config import PromptConfig

    with pytest.raises(ValueError, match=re.escape(message)):
        PromptConfig(**kw)
