"""The experiment's deduplicating sampler answers like the project's transformers backend."""

from __future__ import annotations

import pytest

import shapes_path  # noqa: F401
from shapes.fast_sampling import make_fast
from sophia_eval.backends.base import GenerationConfig
from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions

CONVS = [
    [{"role": "user", "content": "What is 2 + 3?"}],
    [{"role": "user", "content": "Solve for x: 2x + 4 = 10, a longer prompt than the others"}],
    [{"role": "user", "content": "What is 2 + 3?"}],  # a duplicate: deduplicated, still answered
]


@pytest.fixture(scope="module")
def pair(tiny_text_model):
    return (make_fast(str(tiny_text_model), batch_size=2),
            TransformersGenerator(str(tiny_text_model), TransformersOptions(batch_size=2)))


def test_greedy_matches_plain_generate_token_for_token(pair):
    fast, plain = pair
    cfg = GenerationConfig(n=1, temperature=0.0, max_new_tokens=10, seed=0)
    a, b = fast.generate(CONVS, cfg), plain.generate(CONVS, cfg)
    assert [c[0].text for c in a] == [c[0].text for c in b]
    assert [c[0].completion_tokens for c in a] == [c[0].completion_tokens for c in b]
    assert [c[0].prompt_tokens for c in a] == [c[0].prompt_tokens for c in b]


def test_sampling_returns_n_per_prompt_distinct_for_duplicates_and_is_seeded(pair):
    fast, _ = pair
    cfg = GenerationConfig(n=3, temperature=1.0, top_p=0.9, max_new_tokens=8, seed=5)
    out = fast.generate(CONVS, cfg)
    assert [len(c) for c in out] == [3, 3, 3]
    assert all(c.finish_reason in ("stop", "length") for comps in out for c in comps)
    # The duplicate prompt gets its own samples (drawn with its twin in one call), not a copy.
    assert [c.text for c in out[0]] != [c.text for c in out[2]]
    again = fast.generate(CONVS, cfg)
    assert [[c.text for c in x] for x in again] == [[c.text for c in x] for x in out]


def test_vlm_greedy_matches_plain_generate(tiny_llava, tmp_path):
    import tiny_models

    image_path = tmp_path / "img.png"
    tiny_models.make_image().save(image_path)
    fast = make_fast(str(tiny_llava), batch_size=2)
    plain = TransformersGenerator(str(tiny_llava), TransformersOptions(batch_size=2))
    conv = [[{"role": "user", "content": [{"type": "image", "image": str(image_path)}, {"type": "text", "text": q}]}]
            for q in ("Describe the image.", "How many shapes are there in it?")]
    cfg = GenerationConfig(n=1, temperature=0.0, max_new_tokens=6, seed=0)
    assert [c[0].text for c in fast.generate(conv, cfg)] == [c[0].text for c in plain.generate(conv, cfg)]
