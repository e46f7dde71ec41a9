"""The transformers backend's own decode loop: finished sequences leave the batch.

HF `generate` keeps every row of a batch until the last one ends, so one answer that loops to
`max_new_tokens` drags all its finished batch mates through every remaining step; on a CPU a
step's cost grows with its rows. This loop instead
- prefills each prompt once and repeats its KV cache for its `n` samples (`generate` prefills
  every copy),
- drops a row, and its cache, as soon as it emits an end token or its conversation is cancelled,
- samples with temperature and top-p (top-k off, as the backend asks `generate`), finding the
  nucleus without sorting the whole vocabulary when it can (`nucleus`).

It computes position ids from the attention mask itself and edits the cache by row, which is
right only for models with plain 1D positions and a standard cache, and it applies no logits
processor besides temperature and top-p. `unsupported_reason` says why a model is not such a
model; the backend then uses `generate`. Greedy output matches `generate`'s token for token (the
tests compare them per supported family) up to float ties: dropping rows changes the shapes the
kernels see. Sampled output is a draw from the same distribution, not `generate`'s draw (a
dropped row stops consuming random numbers).
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from sophia_eval.backends.base import GenerationConfig

_TEXT_FAMILIES = {"llama", "qwen2", "qwen3"}
"""Language models whose positions are the running count of attended tokens."""
_VISION_WRAPPERS = {"llava", "llava_onevision", "internvl"}
"""VLMs that splice image features into such a language model (no 3D / multimodal rope)."""
_NEUTRAL_GENERATION_KEYS = {
    "bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "max_length", "max_new_tokens",
    "do_sample", "temperature", "top_p", "top_k", "use_cache", "transformers_version", "_from_model_config",
    "output_attentions", "output_hidden_states", "output_scores", "output_logits", "return_dict_in_generate",
}
"""generation_config.json keys that add no logits processor to what the backend sets itself (the
backend passes its own temperature, top-p and top-k; the output_* flags shape `generate`'s return)."""


def unsupported_reason(model: Any) -> str | None:
    """None when the loop decodes `model` exactly as `generate` would; else why not."""
    config = model.config
    kind = getattr(config, "model_type", None)
    text = config
    if kind in _VISION_WRAPPERS:
        text = getattr(config, "text_config", None)
    if getattr(text, "model_type", None) not in _TEXT_FAMILIES:
        return f"model type {kind!r} is not one the loop is tested on ({sorted(_TEXT_FAMILIES | _VISION_WRAPPERS)})"
    if getattr(text, "sliding_window", None) and getattr(text, "use_sliding_window", True):
        return "sliding-window attention"
    extra = sorted(set(model.generation_config.to_diff_dict()) - _NEUTRAL_GENERATION_KEYS)
    if extra:
        return f"generation_config sets {extra}"
    return None


def decode(model: Any, enc: Any, *, n: int, config: GenerationConfig, eos_ids: set[int],
           cancel: Sequence[Any] | None = None) -> list[list[int]]:
    """Generated token ids per row (`n` consecutive rows per prompt of `enc`), each ending at its
    first end token or after `config.max_new_tokens`. `cancel`: an event per prompt; a set one ends
    that prompt's rows at the next step."""
    import torch

    attn = enc["attention_mask"]
    params = inspect.signature(model.forward).parameters
    keep_last = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
    cache_arg = "cache" if "cache" in params else "past_key_values"  # renamed `cache` in transformers 5
    with torch.inference_mode():
        out = model(**enc, position_ids=(attn.cumsum(-1) - 1).clamp(min=0), use_cache=True, **keep_last)
        cache = out[cache_arg]
        if n > 1:
            cache.batch_repeat_interleave(n)
        logits = out.logits[:, -1].float().repeat_interleave(n, 0)
        attn = attn.repeat_interleave(n, 0)
        alive = torch.arange(attn.shape[0], device=attn.device)
        rows: list[list[int]] = [[] for _ in range(attn.shape[0])]
        eos = torch.tensor(sorted(eos_ids), device=attn.device)
        for step in range(config.max_new_tokens):
            tok = pick(logits, config)
            live = alive.tolist()
            for r, t in zip(live, tok.tolist()):
                rows[r].append(t)
            done = torch.isin(tok, eos)
            if cancel is not None:
                stopped = {p for p in {r // n for r in live} if cancel[p].is_set()}
                if stopped:
                    done |= torch.tensor([r // n in stopped for r in live], device=done.device)
            if bool(done.all()) or step + 1 == config.max_new_tokens:
                break
            if bool(done.any()):
                keep = (~done).nonzero().squeeze(1)
                cache.batch_select_indices(keep)
                alive, tok, attn = alive[keep], tok[keep], attn[keep]
            attn = torch.cat([attn, attn.new_ones(attn.shape[0], 1)], dim=1)
            out = model(input_ids=tok[:, None], attention_mask=attn, position_ids=attn.sum(-1, keepdim=True) - 1,
                        use_cache=True, **{cache_arg: cache})
            cache = out[cache_arg]
            logits = out.logits[:, -1].float()
    return rows


def pick(logits: Any, config: GenerationConfig) -> Any:
    """One token per row: argmax when greedy, else a draw from the temperature-scaled nucleus."""
    import torch

    if config.greedy:
        return logits.argmax(-1)
    probs = torch.softmax(logits / config.temperature, dim=-1)
    if config.top_p >= 1.0:
        return torch.multinomial(probs, 1).squeeze(1)
    p, idx = nucleus(probs, config.top_p)
    return idx.gather(-1, torch.multinomial(p, 1)).squeeze(1)


def nucleus(probs: Any, top_p: float, top_k: int = 64) -> tuple[Any, Any]:
    """Top-p filtering: (probabilities with everything outside the nucleus zeroed, their token ids),
    the nucleus being the smallest most-likely prefix whose mass reaches top_p. It is looked for
    among the `top_k` most likely tokens when their mass exceeds top_p in every row (no token past
    them can then be in it: exact), else by a full sort. Sorting and drawing over a 49k-token
    vocabulary took a third of a 135M reasoner's sampling time on CPU."""
    p, idx = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
    if not bool((p.sum(-1) > top_p).all()):
        p, idx = probs.sort(dim=-1, descending=True)
    before = p.cumsum(-1) - p
    return p.masked_fill(before > top_p, 0.0), idx
