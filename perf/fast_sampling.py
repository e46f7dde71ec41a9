"""SOPHIA reasoning-stage sampling: the experiment's fast sampler against plain HF `generate`.

Same prompts (the SOPHIA reasoner prompt over shapes captions; every caption appears twice, as
when a policy repeats a caption), same `n`, `max_new_tokens` and top-p, in the same run:

  plain-fp32   the project's transformers backend, fp32 (its CPU default), `num_return_sequences`
  plain-bf16   the same in bf16
  fast-bf16    `train/experiments/shapes/fast_sampling.py`: bf16, one prefill shared by the n
               samples, identical prompts deduplicated, finished rows dropped

Prints wall time, generated tokens per second and the speed-up over plain-fp32.

    .venv/bin/python perf/fast_sampling.py --model /work/exp/shapes/models/reasoner-base   # SmolLM2
    .venv/bin/python perf/fast_sampling.py                  # tiny random Qwen2 (plumbing only)
    ... --prompts 8 --n 4 --max-new-tokens 64 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "train" / "experiments"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="text LM directory (default: a tiny random Qwen2)")
    ap.add_argument("--prompts", type=int, default=8, help="distinct prompts (each sent twice)")
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from shapes import task
    from shapes.fast_sampling import make_fast
    from sophia_eval.backends.base import GenerationConfig
    from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions
    from sophia_eval.bench.sample import Sample
    from sophia_eval.sophia.prompts import reasoning_messages

    torch.set_num_threads(args.threads)
    model = args.model
    if model is None:
        import tiny_models

        model = str(tiny_models.build_text_model(tempfile.mkdtemp()))
    rows = task.generate(2, args.prompts)
    convs = [reasoning_messages(Sample(benchmark="shapes", id=r["id"], question=r["question"], answer=r["answer"]),
                                r["caption"]) for r in rows]
    convs = [c for c in convs for _ in range(2)]
    cfg = GenerationConfig(n=args.n, temperature=1.0, top_p=0.8, max_new_tokens=args.max_new_tokens, seed=0)
    runs = {
        "plain-fp32": lambda: TransformersGenerator(model, TransformersOptions(batch_size=args.batch_size, dtype="float32")),
        "plain-bf16": lambda: TransformersGenerator(model, TransformersOptions(batch_size=args.batch_size, dtype="bfloat16")),
        "fast-bf16": lambda: make_fast(model, batch_size=args.batch_size, dtype="bfloat16"),
    }
    print(f"model {model}; {len(convs)} prompts ({args.prompts} distinct) x n={args.n}, max_new_tokens "
          f"{args.max_new_tokens}, {args.threads} threads")
    base = None
    for name, make in runs.items():
        gen = make()
        t0 = time.perf_counter()
        out = gen.generate(convs, cfg)
        dt = time.perf_counter() - t0
        tokens = sum(c.completion_tokens or 0 for comps in out for c in comps)
        base = base or dt
        print(f"{name:11s} {dt:8.1f} s  {tokens / dt:8.1f} generated tok/s  speed-up x{base / dt:.2f}")
        del gen


if __name__ == "__main__":
    main()
