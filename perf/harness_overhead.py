"""Harness overhead with a zero-latency generator: scoring-only of MathVision full test x 8 samples.

Target (issue 4): 3040 items x 8 samples generated (instantly), verified, recorded and summarised
in under 30 s on 2 CPU cores. Prints wall time per stage and per sample.

    python perf/harness_overhead.py [--items 3040] [--n 8] [--workers 2] [--batch-size 64]

The fake generator answers from a table keyed by the prompt text: a third of the samples box the
gold answer, a third box a wrong one, a third end with "the answer is <gold>" after some prose,
so the verifier does realistic work (numbers, LaTeX, option letters) without any model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sophia_eval.harness import runner as harness
from sophia_eval.bench import prompts
from sophia_eval.backends.base import Completion
from sophia_eval.harness.protocols import get_protocol
from sophia_eval.runs.store import RunStore


def _key(conv) -> str:
    content = conv[-1]["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content if p["type"] == "text")


class ZeroLatency:
    name = "zero-latency"

    def __init__(self, answers: dict[str, tuple[int, str]]):
        self.answers, self.seconds = answers, 0.0

    def describe(self):
        return {"backend": "zero-latency"}

    def generate(self, conversations, config):
        t0 = time.perf_counter()
        out = []
        for conv in conversations:
            pos, gold = self.answers[_key(conv)]
            row = []
            for j in range(config.n):
                kind = (pos + j) % 3
                text = (f"Working... so \\boxed{{{gold}}}" if kind == 0 else
                        f"Hence \\boxed{{{gold}1}}" if kind == 1 else
                        f"We compare the cases carefully and find the answer is {gold}")
                row.append(Completion(text, "stop", prompt_tokens=100, completion_tokens=20, latency_s=0.0))
            out.append(row)
        self.seconds += time.perf_counter() - t0
        return out


def _stub_verifier() -> None:
    import sys

    import sophia_eval.verify  # noqa: F401  (the package; `sophia_eval.verify` the attribute is the function)

    verify_mod = sys.modules["sophia_eval.verify"]
    from sophia_eval.verify import Verdict

    class StubPool:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def verify_many(self, items):
            return [Verdict("correct" if i["pred"].startswith("Working") else "incorrect",
                            i["pred"].startswith("Working"), extracted="x", method="stub") for i in items]

    verify_mod.VerifierPool = StubPool  # harness imports it from sophia_eval.verify at call time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=3040)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--stub-verifier", action="store_true",
                    help="replace the verifier by an instant stub: measures the harness's own overhead only")
    args = ap.parse_args()
    if args.stub_verifier:
        _stub_verifier()

    t0 = time.perf_counter()
    bench = harness.benchmark_info("mathvision:test")
    samples, bench = harness.load_benchmark(bench, data_dir=args.data_dir, limit=args.items)
    t_load = time.perf_counter() - t0
    answers = {}
    for pos, s in enumerate(samples):
        conv = prompts.build_messages(s, template=bench.prompt_template)
        answers[_key(conv)] = (pos, s.answer.strip())
    gen = ZeroLatency(answers)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        config = harness.RunConfig(benchmark="mathvision:test", model="zero-latency", backend="fake",
                                   protocol=get_protocol("sophia", n=args.n), out=str(out),
                                   batch_size=args.batch_size, verify_workers=args.workers)
        t1 = time.perf_counter()
        harness.run(config, generator=gen, samples=samples, bench=bench, progress=False)
        t_run = time.perf_counter() - t1
        t2 = time.perf_counter()
        summary = harness.rescore(out, workers=args.workers, progress=False)
        t_rescore = time.perf_counter() - t2
        n_records = sum(1 for _ in RunStore.open(out).records())
    total = len(samples) * args.n
    print(f"items {len(samples)} x n {args.n} = {total} samples ({n_records} records), verifier workers {args.workers}"
          + (" [STUB verifier: harness overhead only]" if args.stub_verifier else ""))
    print(f"load data            {t_load:7.2f} s")
    print(f"run (gen+verify+rec) {t_run:7.2f} s  = {1000 * t_run / total:.3f} ms/sample  "
          f"(fake generator itself {gen.seconds:.2f} s)  target < 30 s: {'PASS' if t_run < 30 else 'FAIL'}")
    print(f"rescore              {t_rescore:7.2f} s  = {1000 * t_rescore / total:.3f} ms/sample")
    m = summary["metrics"]
    print(f"pass@1 {m['pass@1']['value']:.2f}  pass@8 {m.get('pass@8', {}).get('value')}  "
          f"statuses {summary['status_counts']}")


if __name__ == "__main__":
    main()
