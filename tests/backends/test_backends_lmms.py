"""lmms backend: the missing-extra error always; the adapter against real lmms-eval where installed.

Where lmms-eval is importable, two kinds of tests run: probe wrappers (minimal `lmms`
subclasses registered the way lmms-eval registers models: `@register_model` plus a manifest
in `MODEL_REGISTRY_V2`) that check what the adapter hands a wrapper (Instance arguments, the doc
behind `task_dict[task][split][doc_id]`, gen_kwargs, seeds) and how outputs and failures map to
Completions; and lmms-eval's own `llava_hf` wrapper (chat and simple) on the tiny random LLaVA
model, on CPU. Without lmms-eval those skip.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from sophia_eval.backends import make_generator
from sophia_eval.backends.base import BackendError, GenerationConfig

HAS_LMMS = importlib.util.find_spec("lmms_eval") is not None
needs_lmms = pytest.mark.skipif(not HAS_LMMS, reason="lmms-eval is not installed (optional extra [lmms])")


def _conv(text: str, image=None, system: str | None = None) -> list[dict]:
    parts = ([{"type": "image", "image": image}] if image is not None else []) + [{"type": "text", "text": text}]
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": parts}]


@pytest.mark.skipif(HAS_LMMS, reason="checks the message shown when lmms-eval is absent")
def test_missing_lmms_eval_names_the_extra():
    with pytest.raises(BackendError, match=r'pip install "sophia-eval\[lmms\]"'):
        make_generator("lmms", "qwen2_vl", model_args="pretrained=/nonexistent", batch_size=1)


def test_lmms_options_are_validated_before_importing_lmms_eval():
    with pytest.raises(BackendError, match="batch_size must be >= 1"):
        make_generator("lmms", "qwen2_vl", batch_size=0)
    with pytest.raises(BackendError, match=r"unknown option\(s\) \['pretrained'\].*model_args"):
        make_generator("lmms", "qwen2_vl", pretrained="x")


def test_model_args_secrets_are_redacted_in_the_run_record():
    from sophia_eval.backends.lmms_backend import _redact

    assert _redact("model_version=gpt-4o,api_key=sk-123,max_tokens=5") == "model_version=gpt-4o,api_key=***,max_tokens=***"


# -- probe wrappers registered in the real lmms-eval registry ------------------------------------

if HAS_LMMS:
    import random

    from lmms_eval.api.instance import GenerationResult, Instance, TokenCounts
    from lmms_eval.api.model import lmms
    from lmms_eval.api.registry import register_model

    class _Probe(lmms):
        """Records what it receives; answers from the doc it looks up like real wrappers do."""

        seen: list = []

        def __init__(self, reply: str = "ok", batch_size: int = 1, device: str = "cpu", **kwargs) -> None:
            super().__init__()
            self.reply, self.batch_size, self.device = reply, int(batch_size), device
            type(self).built_with = {"reply": reply, "batch_size": int(batch_size), "device": device, **kwargs}

        def loglikelihood(self, requests):
            raise NotImplementedError

        def generate_until_multi_round(self, requests):
            raise NotImplementedError

        def _answer(self, text: str, n_images: int, gen_kwargs: dict):
            if "FAIL" in text:
                raise RuntimeError("probe failure")
            if "EMPTY" in text:
                return ""
            draw = random.randint(0, 10**9)
            until = gen_kwargs.pop("until", None)  # real wrappers pop it
            body = f"{self.reply} images={n_images} T={gen_kwargs['temperature']} draw={draw} until={len(until or [])} STOP tail"
            tokens = 3 if "SHORT" in text else gen_kwargs["max_new_tokens"]
            return GenerationResult(text=body, token_counts=TokenCounts(input_tokens=len(text), output_tokens=tokens))

    @register_model("sophia_probe_chat")
    class ProbeChat(_Probe):
        is_simple = False

        def generate_until(self, requests):
            out = []
            for req in requests:
                assert isinstance(req, Instance) and req.request_type == "generate_until"
                ctx, doc_to_messages, gen_kwargs, doc_id, task, split = req.args
                messages = doc_to_messages(self.task_dict[task][split][doc_id])
                type(self).seen.append((doc_id, task, split, messages, dict(gen_kwargs)))
                user = messages[-1]["content"]
                text = " ".join(c["text"] for c in user if c["type"] == "text")
                out.append(self._answer(text, sum(c["type"] == "image" for c in user), gen_kwargs))
            return out

    @register_model("sophia_probe_simple")
    class ProbeSimple(_Probe):
        is_simple = True

        def generate_until(self, requests):
            out = []
            for req in requests:
                context, gen_kwargs, doc_to_visual, doc_id, task, split = req.args
                visuals = doc_to_visual(self.task_dict[task][split][doc_id])
                type(self).seen.append((doc_id, context, visuals, dict(gen_kwargs)))
                out.append(self._answer(context, len(visuals), gen_kwargs))
            return out


@pytest.fixture
def probes():
    from lmms_eval.models import MODEL_REGISTRY_V2, ModelManifest

    mod = sys.modules[__name__].__name__
    MODEL_REGISTRY_V2.register_manifest(
        ModelManifest(model_id="sophia_probe_chat", chat_class_path=f"{mod}.ProbeChat"), overwrite=True
    )
    MODEL_REGISTRY_V2.register_manifest(
        ModelManifest(model_id="sophia_probe_simple", simple_class_path=f"{mod}.ProbeSimple"), overwrite=True
    )
    ProbeChat.seen, ProbeSimple.seen = [], []
    return ProbeChat, ProbeSimple


@needs_lmms
def test_chat_wrapper_gets_the_whole_conversation_through_task_dict(probes, tiny_image):
    chat, _ = probes
    gen = make_generator("lmms", "sophia_probe_chat", model_args="reply=hello,extra=7", batch_size=4, device="cpu")
    assert chat.built_with == {"reply": "hello", "batch_size": 4, "device": "cpu", "extra": 7}
    assert gen.describe()["wrapper_kind"] == "chat"
    out = gen.generate([_conv("q0", tiny_image, system="Think."), _conv("q1")], GenerationConfig(n=1, temperature=0, max_new_tokens=9))
    assert [c.text.split(" draw")[0] for (c,) in out] == ["hello images=1 T=0.0", "hello images=0 T=0.0"]
    doc_id, task, split, messages, gen_kwargs = chat.seen[0]
    assert (doc_id, [m["role"] for m in messages], messages[1]["content"][0]["url"].size) == (0, ["system", "user"], tiny_image.size)
    assert gen_kwargs == {"max_new_tokens": 9, "temperature": 0.0, "do_sample": False}
    assert [(c.finish_reason, c.prompt_tokens, c.completion_tokens) for (c,) in out] == [("length", 2, 9), ("length", 2, 9)]


@needs_lmms
def test_simple_wrapper_gets_context_with_system_text_and_visuals(probes, tiny_image):
    _, simple = probes
    gen = make_generator("lmms", "sophia_probe_simple", batch_size=2)
    (c,), = gen.generate([_conv("What is x?", tiny_image, system="Think.")], GenerationConfig(temperature=0.5, top_p=0.9, max_new_tokens=5))
    doc_id, context, visuals, gen_kwargs = simple.seen[0]
    assert (context, len(visuals), visuals[0].mode) == ("Think.\n\nWhat is x?", 1, "RGB")
    assert gen_kwargs == {"max_new_tokens": 5, "temperature": 0.5, "do_sample": True, "top_p": 0.9}
    assert c.text.startswith("ok images=1 T=0.5")
    bad = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    (e,), = gen.generate([bad], GenerationConfig())
    assert (e.finish_reason, "one user turn" in e.error) == ("error", True)


@needs_lmms
def test_n_samples_are_seeded_rounds_distinct_and_reproducible(probes):
    gen = make_generator("lmms", "sophia_probe_chat")
    cfg = GenerationConfig(n=3, temperature=1.0, seed=11, max_new_tokens=4)
    a = gen.generate([_conv("q"), _conv("r")], cfg)
    b = gen.generate([_conv("q"), _conv("r")], cfg)
    draws = [[c.text.split("draw=")[1].split()[0] for c in cs] for cs in a]
    assert len(set(draws[0])) == 3 and [len(cs) for cs in a] == [3, 3]
    assert [[c.text for c in cs] for cs in a] == [[c.text for c in cs] for cs in b]
    # greedy: one round, repeated n times (one request per conversation)
    n_before = len(probes[0].seen)
    g = gen.generate([_conv("q")], GenerationConfig(n=3, temperature=0))
    assert (len(probes[0].seen) - n_before, len({c.text for c in g[0]})) == (1, 1)


@needs_lmms
def test_failures_become_error_completions_and_spare_the_rest(probes):
    gen = make_generator("lmms", "sophia_probe_chat", batch_size=8)
    out = gen.generate(
        [_conv("fine"), _conv("FAIL"), _conv("EMPTY"), [{"role": "user", "content": [{"type": "video"}]}]],
        GenerationConfig(n=2, temperature=0.7, max_new_tokens=6),
    )
    reasons = [[c.finish_reason for c in cs] for cs in out]
    assert reasons == [["length"] * 2, ["error"] * 2, ["error"] * 2, ["error"] * 2]
    assert "RuntimeError: probe failure" in out[1][0].error
    assert "empty response" in out[2][0].error and "unsupported content part type 'video'" in out[3][0].error
    assert all(c.text for c in out[0])


@needs_lmms
def test_stop_strings_go_as_until_and_cut_the_text(probes):
    gen = make_generator("lmms", "sophia_probe_chat")
    (c,), = gen.generate([_conv("SHORT")], GenerationConfig(stop=("STOP",), max_new_tokens=50))
    assert probes[0].seen[-1][4]["until"] == ["STOP"]
    assert (c.text.endswith("until=1 "), c.finish_reason, c.completion_tokens) == (True, "stop", 3)


@needs_lmms
def test_unknown_lmms_model_name_is_a_backend_error():
    with pytest.raises(BackendError, match="unknown lmms-eval model 'no_such_model_xyz'"):
        make_generator("lmms", "no_such_model_xyz")


# -- lmms-eval's own llava_hf wrapper on the tiny random LLaVA, CPU --------------------------------

needs_decord = pytest.mark.skipif(
    not HAS_LMMS or importlib.util.find_spec("decord") is None,
    reason="needs lmms-eval and decord (its llava_hf wrapper imports decord)",
)


@needs_decord
@pytest.mark.slow
@pytest.mark.parametrize("simple", [False, True], ids=["chat", "simple"])
def test_real_llava_hf_wrapper_generates_n_samples(tiny_llava, tiny_image, simple):
    gen = make_generator(
        "lmms", "llava_hf", model_args=f"pretrained={tiny_llava},device_map=cpu", batch_size=1, device="cpu",
        force_simple=simple,
    )
    assert gen.describe()["model_class"].endswith("simple.llava_hf.LlavaHf" if simple else "chat.llava_hf.LlavaHf")
    conv = _conv("What is 2 + 3?", tiny_image, system="Answer briefly.")
    cfg = GenerationConfig(n=2, temperature=1.0, max_new_tokens=4, seed=3)
    out = gen.generate([conv], cfg)
    assert [len(cs) for cs in out] == [2]
    assert all(c.finish_reason in ("stop", "length") and c.text and c.completion_tokens for c in out[0])
    assert [c.text for c in out[0]] == [c.text for c in gen.generate([conv], cfg)[0]]
    if not simple:
        # The chat wrapper reports exact output token counts (4 = max_new_tokens: length).
        assert [(c.finish_reason, c.completion_tokens) for c in out[0]] == [("length", 4)] * 2
        # On a text-only prompt it fails inside, logs, and returns "": an error, not an empty answer.
        (e,), = gen.generate([_conv("hi")], GenerationConfig(max_new_tokens=4))
        assert e.finish_reason == "error"
    gen.close()
