"""The transformers backend's own decode loop against HF `generate`, per supported model family."""

from __future__ import annotations

import shutil

import pytest

import tiny_models
from sophia_eval.backends.base import GenerationConfig
from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions, _prepare

QUESTIONS = ["What is 2 + 3?", "Solve for x: 2x + 4 = 10, a longer prompt than the others", "7?", "Name a prime."]


def _text_family(root, kind: str):
    """A tiny Llama or Qwen3 causal LM with the tiny Qwen2's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig as HFGen, LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    src = tiny_models.build_text_model(root, f"src-{kind}")
    tok = AutoTokenizer.from_pretrained(src)
    eos, pad = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    cls, cfg = {"llama": (LlamaForCausalLM, LlamaConfig), "qwen3": (Qwen3ForCausalLM, Qwen3Config)}[kind]
    config = cfg(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=1, head_dim=32, max_position_embeddings=2048, eos_token_id=eos, pad_token_id=pad)
    torch.manual_seed(0)
    model = cls(config).eval()
    model.generation_config = HFGen(eos_token_id=eos, pad_token_id=pad)
    out = root / kind
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


FAMILIES = ["text", "llama", "qwen3", "llava", "internvl", "llava_onevision"]


@pytest.fixture(scope="module")
def family_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("decode_loop")
    built = {}

    def get(kind: str):
        if kind not in built:
            built[kind] = _text_family(root, kind) if kind in ("llama", "qwen3") else tiny_models.BUILDERS[kind](root)
        return built[kind]

    return get


def _convs(kind: str, image) -> list:
    if kind in ("text", "llama", "qwen3"):
        return [[{"role": "user", "content": q}] for q in QUESTIONS]
    return [[{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": q}]}]
            for q in QUESTIONS]


def _staggered_copy(path, dst, convs, cfg):
    """A copy of the model with re-drawn weights (the tiny models' greedy output is one repeated
    token) whose generation config also ends on the token that ends its rows at the most different
    steps (random models rarely emit their real end token), so rows leave the batch one by one."""
    import torch
    from transformers import GenerationConfig as HFGen

    shutil.copytree(path, dst)
    gen = TransformersGenerator(str(dst), TransformersOptions(batch_size=4, decode="generate"))
    enc = gen._encode([_prepare(c, vision=gen.vision) for c in convs])
    for seed in range(5):  # a draw whose rows differ (some collapse into one repeated token)
        torch.manual_seed(seed)
        with torch.inference_mode():
            for p in gen.model.parameters():
                if p.dim() >= 2:  # matrices only: norm weights stay 1
                    p.normal_(0, 0.3)
            out = gen.model.generate(**enc, max_new_tokens=cfg.max_new_tokens, do_sample=False,
                                     pad_token_id=gen.tokenizer.pad_token_id)
        rows = out[:, enc["input_ids"].shape[1]:].tolist()
        ends = {t: [r.index(t) if t in r else len(r) for r in rows] for r in rows for t in r}
        best = max(ends, key=lambda t: (len(set(ends[t])), sum(ends[t])))
        if len(set(ends[best])) > 2:
            break
    gen.model.save_pretrained(dst)
    gc = HFGen.from_pretrained(dst)
    eos = gc.eos_token_id if isinstance(gc.eos_token_id, list) else [gc.eos_token_id]
    gc.eos_token_id = [*eos, best]
    gc.save_pretrained(dst)
    return dst


def _batch_sizes(gen) -> list[int]:
    seen: list[int] = []
    gen.model.register_forward_pre_hook(lambda m, args, kw: seen.append(kw["input_ids"].shape[0]), with_kwargs=True)
    return seen


@pytest.mark.parametrize("kind", FAMILIES)
def test_greedy_equals_generate_token_for_token_while_rows_leave_the_batch(kind, family_models, tiny_image, tmp_path):
    convs = _convs(kind, tiny_image)
    cfg = GenerationConfig(n=1, temperature=0.0, max_new_tokens=12, seed=0)
    model = _staggered_copy(family_models(kind), tmp_path / "m", convs, cfg)
    loop = TransformersGenerator(str(model), TransformersOptions(batch_size=4))
    plain = TransformersGenerator(str(model), TransformersOptions(batch_size=4, decode="generate"))
    assert loop.describe()["decode"] == "loop" and plain.describe()["decode"].startswith("generate")
    sizes = _batch_sizes(loop)
    a, b = loop.generate(convs, cfg), plain.generate(convs, cfg)
    got = [(c[0].text, c[0].completion_tokens, c[0].finish_reason, c[0].prompt_tokens) for c in a]
    assert got == [(c[0].text, c[0].completion_tokens, c[0].finish_reason, c[0].prompt_tokens) for c in b]
    assert sizes[0] == 4 and min(sizes) < 4, f"no row left the batch early (sizes {sizes}); the test proves nothing"


def test_sampling_shares_one_prefill_per_prompt_and_is_seeded(family_models):
    gen = TransformersGenerator(str(family_models("text")), TransformersOptions(batch_size=4))
    sizes = _batch_sizes(gen)
    cfg = GenerationConfig(n=3, temperature=1.0, top_p=0.9, max_new_tokens=8, seed=5)
    convs = _convs("text", None)
    out = gen.generate(convs, cfg)
    assert sizes[:2] == [4, 12]  # the prefill sees 4 prompts; decoding, their 3 samples each
    assert [len(c) for c in out] == [3] * 4 and len({c.text for c in out[0]}) > 1
    assert [[c.text for c in x] for x in gen.generate(convs, cfg)] == [[c.text for c in x] for x in out]


def test_cancel_in_the_loop_ends_only_that_conversation(family_models):
    class After:
        def __init__(self, checks):
            self.checks, self.seen = checks, 0

        def is_set(self):
            self.seen += 1
            return self.checks is not None and self.seen > self.checks

    gen = TransformersGenerator(str(family_models("text")), TransformersOptions(batch_size=4))
    cfg = GenerationConfig(n=1, temperature=0.0, max_new_tokens=20, seed=0)
    convs = _convs("text", None)[:2]
    alone = gen.generate(convs[1:], cfg)[0][0]
    cut, kept = gen.generate(convs, cfg, cancel=[After(3), After(None)])
    assert (cut[0].error, cut[0].completion_tokens < 20, kept[0].text) == ("cancelled", True, alone.text)


def test_families_the_loop_does_not_know_fall_back_to_generate_and_say_why(tiny_qwen2vl, family_models, tmp_path):
    from transformers import GenerationConfig as HFGen

    vl = TransformersGenerator(str(tiny_qwen2vl), TransformersOptions(batch_size=2))
    assert vl.describe()["decode"].startswith("generate (model type 'qwen2_vl'")
    model = shutil.copytree(family_models("text"), tmp_path / "rep")
    gc = HFGen.from_pretrained(model)
    gc.repetition_penalty = 1.1
    gc.save_pretrained(model)
    rep = TransformersGenerator(str(model), TransformersOptions(batch_size=2))
    assert rep.describe()["decode"] == "generate (generation_config sets ['repetition_penalty'])"
    forced = TransformersGenerator(str(family_models("text")), TransformersOptions(decode="generate"))
    assert forced.describe()["decode"] == "generate (option decode=generate)"


def test_an_unknown_decode_option_says_the_valid_ones():
    with pytest.raises(ValueError, match="decode must be auto or generate, got 'fast'"):
        TransformersOptions(decode="fast")


@pytest.mark.parametrize("scale", [8.0, 0.01])  # peaked (found among the top k) and flat (full sort)
def test_nucleus_equals_the_full_sort_definition(scale):
    import torch

    from sophia_eval.backends.decode_loop import nucleus

    torch.manual_seed(0)
    probs = torch.softmax(torch.randn(6, 5000) * scale, dim=-1)
    p, idx = nucleus(probs, 0.8, top_k=16)
    got = torch.zeros_like(probs).scatter_(-1, idx, p)
    ref_p, ref_idx = probs.sort(dim=-1, descending=True)
    ref_p[(ref_p.cumsum(-1) - ref_p) > 0.8] = 0.0  # the smallest most-likely prefix reaching top_p
    want = torch.zeros_like(probs).scatter_(-1, ref_idx, ref_p)
    assert torch.equal(got > 0, want > 0) and torch.allclose(got, want)
    assert bool(((got > 0).sum(-1) > 16).any()) == (scale < 1)  # the flat case needed the fallback
