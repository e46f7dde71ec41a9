"""Faster sampling on CPU for the experiment: the project's transformers backend with three changes.

1. Deduplication: identical conversations in one `generate` call (the same caption sampled twice
   for one question) become one prompt asked for the sum of their samples, then split back.
2. Shared prefill: each prompt is encoded once and its KV cache repeated for its `n` samples
   (HF `generate` with `num_return_sequences` prefills every copy).
3. Finished rows leave the batch: the decode loop drops sequences that emitted an end token, so
   long stragglers do not drag finished rows through every step.

Loading, chat templates, processors, padding, stop tokens and `Completion`s are the backend's own
(`TransformersGenerator`); only the decode loop is ours. Use `dtype=bfloat16` for the reasoner.
Sampling is temperature + top-p (top-k off), like the backend, with the nucleus found without
sorting the whole vocabulary when it can be (`nucleus`); greedy decodes once per prompt.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Sequence

from sophia_eval.backends.base import Completion, GenerationConfig
from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions


class FastSamplingGenerator(TransformersGenerator):
    name = "transformers"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "sampler": "shared_prefill+dedup+drop_finished"}

    def generate(self, conversations: Sequence[Any], config: GenerationConfig) -> list[list[Completion]]:
        import json

        keys = [json.dumps(c, sort_keys=True, default=str) for c in conversations]
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        counts = {k: keys.count(k) for k in first}
        unique = [conversations[i] for i in first.values()]
        # One call per distinct multiplicity keeps `n` uniform inside a call.
        by_mult: dict[int, list[int]] = {}
        for j, k in enumerate(first):
            by_mult.setdefault(counts[k], []).append(j)
        pooled: dict[int, list[Completion]] = {}
        for mult, idx in by_mult.items():
            cfg = dataclasses.replace(config, n=config.n * mult)
            for j, comps in zip(idx, super().generate([unique[j] for j in idx], cfg)):
                pooled[j] = comps
        out, used = [], {k: 0 for k in first}
        order = list(first)
        for k in keys:
            j = order.index(k)
            start = used[k] * config.n
            out.append(pooled[j][start:start + config.n])
            used[k] += 1
        return out

    def _generate_batch(self, batch: list[Any], config: GenerationConfig, *, seed_offset: int,
                        cancel: Sequence[Any] | None = None) -> list[list[Completion]]:
        from transformers import set_seed

        if cancel is not None and all(e.is_set() for e in cancel):  # every client left: the base answers errors
            return super()._generate_batch(batch, config, seed_offset=seed_offset, cancel=cancel)

        enc = self._encode(batch).to(self.model.device)
        prompt_tokens = enc["attention_mask"].sum(dim=1).tolist()
        n = 1 if config.greedy else config.n
        if config.seed is not None:
            set_seed(config.seed + seed_offset)
        t0 = time.perf_counter()
        rows = self._decode(enc, n, config)
        latency = (time.perf_counter() - t0) / max(len(batch), 1)
        out = []
        for p in range(len(batch)):
            comps = [self._completion(r, config, prompt_tokens[p], latency) for r in rows[p * n:(p + 1) * n]]
            out.append(comps * config.n if n == 1 and config.n > 1 else comps)
        return out

    def _decode(self, enc: Any, n: int, config: GenerationConfig) -> list[list[int]]:
        import torch

        model = self.model
        attn = enc["attention_mask"]
        with torch.inference_mode():
            pos = (attn.cumsum(-1) - 1).clamp(min=0)
            out = model(**enc, position_ids=pos, use_cache=True)
            cache = out.past_key_values
            if n > 1:
                cache.batch_repeat_interleave(n)
            logits = out.logits[:, -1].float().repeat_interleave(n, 0)
            attn = attn.repeat_interleave(n, 0)
            total = attn.shape[0]
            alive = torch.arange(total)
            rows: list[list[int]] = [[] for _ in range(total)]
            eos = torch.tensor(sorted(self._eos_ids))
            for _ in range(config.max_new_tokens):
                tok = self._pick(logits, config)
                for r, t in zip(alive.tolist(), tok.tolist()):
                    rows[r].append(t)
                done = torch.isin(tok, eos)
                if bool(done.all()):
                    break
                if bool(done.any()):
                    keep = (~done).nonzero().squeeze(1)
                    cache.batch_select_indices(keep)
                    alive, tok, attn = alive[keep], tok[keep], attn[keep]
                attn = torch.cat([attn, attn.new_ones(attn.shape[0], 1)], dim=1)
                step_pos = (attn.sum(-1, keepdim=True) - 1)
                out = model(input_ids=tok[:, None], attention_mask=attn, position_ids=step_pos,
                            cache=cache, use_cache=True)
                cache = out.past_key_values
                logits = out.logits[:, -1].float()
        return rows

    @staticmethod
    def _pick(logits: Any, config: GenerationConfig) -> Any:
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
    them can then be in it: exact), else by a full sort. Sorting and drawing over SmolLM2's 49k-token
    vocabulary took a third of the reasoner's sampling time."""
    p, idx = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
    if not bool((p.sum(-1) > top_p).all()):
        p, idx = probs.sort(dim=-1, descending=True)
    before = p.cumsum(-1) - p
    return p.masked_fill(before > top_p, 0.0), idx


def make_fast(model: str, **options: Any) -> FastSamplingGenerator:
    return FastSamplingGenerator(model, TransformersOptions(**options))
