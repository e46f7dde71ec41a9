"""Transformers backend on tiny random models: batching, images, n samples, finish reasons, errors."""

from __future__ import annotations

import pytest

from sophia_eval.backends import make_generator
from sophia_eval.backends.base import BackendError, GenerationConfig

GREEDY = GenerationConfig(temperature=0, max_new_tokens=6)
SAMPLED = GenerationConfig(n=3, temperature=1.0, top_p=0.9, max_new_tokens=6, seed=7)


def _text(q: str) -> list[dict]:
    return [{"role": "user", "content": q}]


def _vision(q: str, image) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": q}]}]


@pytest.fixture(scope="module")
def text_gen(tiny_text_model):
    return make_generator("transformers", str(tiny_text_model), batch_size=4)


@pytest.fixture(scope="module")
def qwen2vl_gen(tiny_qwen2vl):
    return make_generator("transformers", str(tiny_qwen2vl), batch_size=4)


def test_returns_n_completions_per_conversation_in_order(text_gen):
    out = text_gen.generate([_text("a"), _text("What is 2 + 3?")], SAMPLED)
    assert [len(c) for c in out] == [3, 3]


def test_prompt_tokens_follow_each_prompt_not_the_padded_batch(text_gen):
    short, long = text_gen.generate([_text("a"), _text("What is 2 + 3? Think step by step.")], GREEDY)
    assert short[0].prompt_tokens < long[0].prompt_tokens


def test_left_padded_batch_matches_one_at_a_time(tiny_text_model, text_gen):
    convs = [_text("a"), _text("What is 2 + 3? Think step by step."), _text("Solve for x")]
    single = make_generator("transformers", str(tiny_text_model), batch_size=1)
    assert [c[0].text for c in text_gen.generate(convs, GREEDY)] == [c[0].text for c in single.generate(convs, GREEDY)]


def test_hitting_max_new_tokens_is_length(text_gen):
    (c,) = text_gen.generate([_text("What is 2 + 3?")], GREEDY)[0]
    assert (c.finish_reason, c.completion_tokens) == ("length", 6)


def test_end_of_sequence_token_is_stop(text_gen):
    first = text_gen.generate([_text("hi")], GenerationConfig(temperature=0, max_new_tokens=1))[0][0]
    token = text_gen.tokenizer(first.text, add_special_tokens=False)["input_ids"][0]
    saved = text_gen._eos_ids
    text_gen._eos_ids = saved | {token}
    try:
        (c,) = text_gen.generate([_text("hi")], GenerationConfig(temperature=0, max_new_tokens=6))[0]
    finally:
        text_gen._eos_ids = saved
    assert (c.finish_reason, c.completion_tokens) == ("stop", 1)


def test_same_seed_reproduces_samples(text_gen):
    a = text_gen.generate([_text("What is 2 + 3?")], SAMPLED)
    b = text_gen.generate([_text("What is 2 + 3?")], SAMPLED)
    assert [c.text for c in a[0]] == [c.text for c in b[0]]


def test_greedy_n_repeats_the_single_greedy_answer(text_gen):
    (comps,) = text_gen.generate([_text("hi")], GenerationConfig(n=2, temperature=0, max_new_tokens=4))
    assert comps[0].text == comps[1].text


def test_text_model_rejects_images_per_item_not_per_batch(text_gen, tiny_image):
    bad, good = text_gen.generate([_vision("q", tiny_image), _text("q")], GREEDY)
    assert (bad[0].finish_reason, good[0].finish_reason) == ("error", "length")


def test_vlm_batch_mixes_image_and_text_only_items(qwen2vl_gen, tiny_image):
    with_image, text_only = qwen2vl_gen.generate([_vision("2+3?", tiny_image), _text("2+3?")], GREEDY)
    assert with_image[0].prompt_tokens > text_only[0].prompt_tokens


def test_vlm_accepts_image_paths(qwen2vl_gen, tiny_image, tmp_path):
    path = tmp_path / "fig.png"
    tiny_image.save(path)
    (c,) = qwen2vl_gen.generate([_vision("2+3?", str(path))], GREEDY)[0]
    assert c.finish_reason in ("stop", "length") and c.error is None


def test_missing_image_is_an_error_completion_naming_the_path(qwen2vl_gen, tmp_path):
    missing = str(tmp_path / "nope.png")
    (c,) = qwen2vl_gen.generate([_vision("2+3?", missing)], GREEDY)[0]
    assert c.finish_reason == "error" and missing in c.error


@pytest.mark.parametrize("fixture", ["tiny_qwen25vl", "tiny_llava"])
def test_other_vlm_families_generate_batched(fixture, tiny_image, request):
    gen = make_generator("transformers", str(request.getfixturevalue(fixture)), batch_size=2)
    out = gen.generate([_vision("2+3?", tiny_image), _vision("What is 7?", tiny_image)], SAMPLED)
    assert [len(c) for c in out] == [3, 3] and all(c.error is None for cs in out for c in cs)


def test_describe_names_model_class_and_versions(qwen2vl_gen):
    d = qwen2vl_gen.describe()
    assert d["model_class"] == "Qwen2VLForConditionalGeneration" and d["transformers_version"]


def test_bad_model_path_raises_backend_error_naming_it(tmp_path):
    with pytest.raises(BackendError, match="no-such-model"):
        make_generator("transformers", str(tmp_path / "no-such-model"))


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(BackendError, match="transformers, vllm, openai"):
        make_generator("tgi", "x")


def test_unknown_option_names_valid_options(tiny_text_model):
    with pytest.raises(BackendError, match="batch_size"):
        make_generator("transformers", str(tiny_text_model), batchsize=2)


def test_image_max_pixels_reduces_vision_tokens(tiny_qwen2vl):
    from PIL import Image

    big = Image.new("RGB", (200, 200), (10, 120, 200))
    full = make_generator("transformers", str(tiny_qwen2vl))
    capped = make_generator("transformers", str(tiny_qwen2vl), image_max_pixels=28 * 28)
    conv = [_vision("2+3?", big)]
    cfg = GenerationConfig(temperature=0, max_new_tokens=1)
    assert capped.generate(conv, cfg)[0][0].prompt_tokens < full.generate(conv, cfg)[0][0].prompt_tokens


def test_image_max_pixels_on_a_fixed_size_processor_is_refused(tiny_llava):
    with pytest.raises(BackendError, match="no pixel budget"):
        make_generator("transformers", str(tiny_llava), image_max_pixels=1000)


def test_stop_string_cuts_the_text_and_is_stop(text_gen):
    cfg = GenerationConfig(temperature=1.0, max_new_tokens=10, seed=11)
    full = text_gen.generate([_text("What is 2 + 3?")], cfg)[0][0].text
    # A character first seen mid-text (so the stop cannot match earlier, nor across the prompt).
    cut = next(i for i in range(2, len(full)) if full[i] not in full[:i] and full[i].strip())
    (c,) = text_gen.generate([_text("What is 2 + 3?")], GenerationConfig(**{**cfg.__dict__, "stop": (full[cut],)}))[0]
    assert (c.text, c.finish_reason) == (full[:cut], "stop")


def test_describe_fingerprints_local_checkpoints_apart(text_gen, qwen2vl_gen):
    a, b = text_gen.describe()["local_fingerprint"], qwen2vl_gen.describe()["local_fingerprint"]
    assert a and b and a != b


class _SetAfter:
    """An Event-like flag that turns on after `checks` looks (the stopping criterion looks once per step)."""

    def __init__(self, checks: int | None) -> None:
        self.checks, self.seen = checks, 0

    def is_set(self) -> bool:
        self.seen += 1
        return self.checks is not None and self.seen > self.checks


def _forward_calls(gen) -> list[int]:
    calls = [0]
    gen.model.register_forward_hook(lambda *a: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_cancel_stops_decoding_between_steps(tiny_text_model):
    gen = make_generator("transformers", str(tiny_text_model))
    calls = _forward_calls(gen)
    cfg = GenerationConfig(temperature=0, max_new_tokens=40)
    (full,) = gen.generate([_text("What is 2 + 3?")], cfg, cancel=[_SetAfter(None)])[0]
    steps_uncancelled, calls[0] = calls[0], 0
    (cut,) = gen.generate([_text("What is 2 + 3?")], cfg, cancel=[_SetAfter(4)])[0]
    assert (full.completion_tokens, steps_uncancelled, cut.finish_reason, cut.error, calls[0] < 10) == (
        40, 40, "error", "cancelled", True)


def test_cancelling_one_conversation_leaves_its_batch_mates_unchanged(text_gen):
    cfg = GenerationConfig(temperature=0, max_new_tokens=12)
    alone = text_gen.generate([_text("What is 2 + 3?")], cfg)[0]
    cut, kept = text_gen.generate([_text("a"), _text("What is 2 + 3?")], cfg, cancel=[_SetAfter(2), _SetAfter(None)])
    assert (cut[0].error, kept[0].text) == ("cancelled", alone[0].text)


def test_count_prompt_tokens_matches_what_generate_reports(text_gen):
    conv = _text("What is 2 + 3? Think step by step.")
    (c,) = text_gen.generate([conv], GREEDY)[0]
    assert text_gen.count_prompt_tokens(conv) == c.prompt_tokens


def test_freed_memory_goes_back_to_the_os_after_each_batch(text_gen, monkeypatch):
    import sophia_eval.backends.transformers_backend as tb

    calls = []
    monkeypatch.setattr(tb, "release_free_memory", lambda: calls.append(1) or True)
    text_gen.generate([_text(str(i)) for i in range(6)], GREEDY)  # batch_size 4: two batches
    assert len(calls) == 2
