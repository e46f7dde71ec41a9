"""Deterministic test doubles for the harness: a fake generator and a small arithmetic benchmark.

The fake generator answers "What is A + B?" from the prompt text alone, so its output does not
depend on batching or on how often it is called: a resumed run must reproduce an uninterrupted
one exactly. Items with even A are answered right, odd A wrong; sample j > 0 of a sampled run
flips correctness when (A + j) % 3 == 0.

`SeededFakeGenerator` is seed-sensitive like the real backends: with sampled decoding, each call
draws from one random stream seeded with `config.seed` (as the transformers backend does), so a
prompt's text depends on the seed and on its position in the call.
"""

from __future__ import annotations

import random
import re
import sys
import time
from dataclasses import replace
from typing import Any, Sequence

from sophia_eval.backends.base import Completion, GenerationConfig
from sophia_eval.harness.runner import BenchmarkInfo, RunConfig
from sophia_eval.harness.protocols import get_protocol
from sophia_eval.bench.sample import Sample
from sophia_eval.runs.store import RunStore

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


class SeededFakeGenerator(FakeGenerator):
    """FakeGenerator whose sampled outputs carry draws from a per-call stream seeded by `config.seed`.

    `fail_once_items`: items (by A) answered with an error the first time they are generated, like
    a transient per-prompt backend failure that a rerun retries.
    """

    def __init__(self, *args: Any, fail_once_items: Sequence[int] = (), **kw: Any):
        super().__init__(*args, **kw)
        self.fail_once, self.seen = set(fail_once_items), set()

    def generate(self, conversations, config: GenerationConfig) -> list[list[Completion]]:
        out = super().generate(conversations, config)
        rng = random.Random(config.seed)
        for conv, row in zip(conversations, out):
            a = int(re.search(r"What is (\d+) \+", _text(conv)).group(1))
            first = a not in self.seen
            self.seen.add(a)
            for j, comp in enumerate(row):
                draw = rng.randrange(10**6)  # drawn for every prompt: later prompts depend on earlier ones
                if a in self.fail_once and first:
                    row[j] = Completion("", "error", error="HTTP 503 from server")
                elif not config.greedy and comp.finish_reason != "error":
                    row[j] = replace(comp, text=f"{comp.text} (draw {draw})")
        return out


SAMPLED = get_protocol("sophia", n=2, max_new_tokens=32)


def toy_config(out, **kw) -> RunConfig:
    protocol = kw.pop("protocol", get_protocol("greedy", max_new_tokens=32))
    return RunConfig(benchmark="toy_add", model="fake-adder", backend="fake", protocol=protocol, out=str(out),
                     verify_workers=kw.pop("verify_workers", 1), **kw)


def _slow_append(delay_s: float):
    """RunStore.append that pauses after every line, so a kill can land inside a batch's records."""
    append = RunStore.append

    def slow(self, records):
        for record in records:
            append(self, [record])
            time.sleep(delay_s)

    return slow


if __name__ == "__main__":  # used by the SIGKILL test: python harness_fakes.py OUT DELAY
    from sophia_eval.harness.runner import run

    RunStore.append = _slow_append(float(sys.argv[2]))
    run(toy_config(sys.argv[1], batch_size=2, protocol=SAMPLED), generator=SeededFakeGenerator(),
        samples=toy_samples(), bench=BENCH, progress=False)
