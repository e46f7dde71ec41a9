"""Faster SOPHIA sampling on CPU for the experiment: the project's transformers backend plus
deduplication. Identical conversations in one `generate` call (the same caption sampled twice for
one question) become one prompt asked for the sum of their samples, then split back; the backend's
decode loop already shares one prefill among a prompt's samples and drops finished rows. Use
`dtype=bfloat16` for the reasoner.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from sophia_eval.backends.base import Completion, GenerationConfig
from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions


class FastSamplingGenerator(TransformersGenerator):
    name = "transformers"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "sampler": "dedup"}

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


def make_fast(model: str, **options: Any) -> FastSamplingGenerator:
    return FastSamplingGenerator(model, TransformersOptions(**options))
