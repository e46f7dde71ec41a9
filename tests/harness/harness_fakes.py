"""Deterministic test doubles for the harness: a fake generator and a small arithmetic benchmark.

The fake generator answers "What is A + B?" from the prompt text alone, so its output does not
depend on batching or on how often it is called: a resumed run must reproduce an uninterrupted
one exactly. Items with even A are answered right, odd A wrong; sample j > 0 of a sampled run
flips correctness when (A + j) % 3 == 0.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any, Sequence

from sophia_eval.backends.base import Completion, GenerationConfig
from sophia_eval.harness import BenchmarkInfo, RunConfig
from sophia_eval.protocols import get_protocol
from sophia_eval.sample import Sample

BENCH = BenchmarkInfo(name="toy_add", split="test", version="1", metric="accuracy", breakdown=("level",),
                      extraction="default", prompt_template=None)


def toy_samples(count: int = 12) -> list[Sample]:
    return [
        Sample(benchmark="toy_add", id=f"q{a}", question=f"What is {a} + {a + 1}?", answer=str(2 * a + 1),
               categories={"level": str(1 + a % 3)})
        for a in range(count)
    ]


def _text(conv: Sequence[dict[str, Any]]) -> str:
    content = conv[-1]["content"]
    if isinstance(content, str):
        return content
    return " ".join(p.get("text", "") for p in content if p.get("type") == "text")


class FakeGenerator:
    name = "fake"

    def __init__(self, delay_s: float = 0.0, fail_items: Sequence[int] = (), raise_batches: Sequence[int] = (),
                 exc: type[Exception] = RuntimeError):
        self.delay_s, self.fail_items, self.raise_batches, self.exc = delay_s, set(fail_items), set(raise_batches), exc
        self.calls = 0

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake", "model": "fake-adder"}

    def generate(self, conversations, config: GenerationConfig) -> list[list[Completion]]:
        call = self.calls
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if call in self.raise_batches:
            raise self.exc(f"simulated backend failure on batch {call}")
        out = []
        for conv in conversations:
            a, b = map(int, re.search(r"What is (\d+) \+ (\d+)\?", _text(conv)).groups())
            if a in self.fail_items:
                out.append([Completion("", "error", error="HTTP 503 from server") for _ in range(config.n)])
                continue
            row = []
            for j in range(config.n):
                right = (a % 2 == 0) != (j > 0 and (a + j) % 3 == 0)
                value = a + b if right else a + b + 1
                row.append(Completion(f"Adding: \\boxed{{{value}}}", "stop", prompt_tokens=7, completion_tokens=5,
                                      latency_s=0.001))
            out.append(row)
        return out


def toy_config(out, **kw) -> RunConfig:
    protocol = kw.pop("protocol", get_protocol("greedy", max_new_tokens=32))
    return RunConfig(benchmark="toy_add", model="fake-adder", backend="fake", protocol=protocol, out=str(out),
                     verify_workers=kw.pop("verify_workers", 1), **kw)


if __name__ == "__main__":  # used by the SIGKILL test: python harness_fakes.py OUT DELAY
    from sophia_eval.harness import run

    run(toy_config(sys.argv[1], batch_size=2), generator=FakeGenerator(delay_s=float(sys.argv[2])),
        samples=toy_samples(), bench=BENCH, progress=False)
