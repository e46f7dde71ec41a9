"""Prompt templates, system prompts, hints and prompt hashes."""

from __future__ import annotations

import pytest
from PIL import Image

from sophia_eval.bench.prompts import SYSTEM_PROMPTS, TEMPLATES, build_messages, prompt_hash
from sophia_eval.bench.sample import Sample


def sample(**kw) -> Sample:
    base = dict(benchmark="t", id="1", question="What is 2+2?", answer="4")
    base.update(kw)
    return Sample(**base)


def test_user_turn_has_images_first_then_text():
    msgs = build_messages(sample(images=("a.png", "b.png")))
    assert [p["type"] for p in msgs[-1]["content"]] == ["image", "image", "text"]


def test_default_template_asks_for_a_boxed_answer():
    assert "\\boxed{}" in build_messages(sample())[-1]["content"][-1]["text"]


def test_options_are_lettered():
    text = build_messages(sample(options=("3", "4"), answer="B", answer_type="choice"))[-1]["content"][-1]["text"]
    assert "(A) 3\n(B) 4" in text


def test_bare_letter_options_are_not_repeated():
    text = build_messages(sample(options=tuple("ABCDE"), answer="C", answer_type="choice"))[-1]["content"][-1]["text"]
    assert "(A) A" not in text


def test_hint_is_prepended_when_asked():
    text = build_messages(sample(hint="Hint: answer with an integer."))[-1]["content"][-1]["text"]
    assert text.startswith("Hint: answer with an integer.\n")


def test_hint_is_left_out_without_use_hint():
    text = build_messages(sample(hint="Hint: x"), use_hint=False)[-1]["content"][-1]["text"]
    assert "Hint" not in text


def test_slow_thinking_system_prompt_is_first_and_mentions_think_tags():
    msgs = build_messages(sample(), system_prompt="sophia_slow_thinking")
    assert msgs[0]["role"] == "system" and "<think>" in msgs[0]["content"] and "32768" in msgs[0]["content"]


def test_no_system_turn_by_default():
    assert [m["role"] for m in build_messages(sample())] == ["user"]


def test_unknown_template_lists_known_ones():
    with pytest.raises(KeyError, match="default"):
        build_messages(sample(), template="fancy")


def test_unknown_system_prompt_lists_known_ones():
    with pytest.raises(KeyError, match="sophia_slow_thinking"):
        build_messages(sample(), system_prompt="pirate")


def test_every_template_renders_an_empty_question():
    assert all(TEMPLATES[t].render(sample(question="")) is not None for t in TEMPLATES)


def test_prompt_hash_is_stable():
    assert prompt_hash(build_messages(sample())) == prompt_hash(build_messages(sample()))


def test_prompt_hash_changes_with_text():
    assert prompt_hash(build_messages(sample())) != prompt_hash(build_messages(sample(question="What is 3+3?")))


def test_prompt_hash_of_pil_image_depends_on_pixels():
    a = build_messages(sample(images=(Image.new("RGB", (2, 2), (0, 0, 0)),)))
    b = build_messages(sample(images=(Image.new("RGB", (2, 2), (9, 9, 9)),)))
    assert prompt_hash(a) != prompt_hash(b)


def test_system_prompts_include_the_sophia_one():
    assert "sophia_slow_thinking" in SYSTEM_PROMPTS
