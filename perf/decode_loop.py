"""The transformers backend's decode loop against HF `generate`, measured in the same run.

Two workloads:

  sampling  SOPHIA reasoner sampling: the reasoner prompt over shapes captions (every caption sent
            twice, as when a policy repeats one), `n` samples each, T=1, top-p 0.8
  eval      greedy answers to the prompts a harness run recorded (`--run DIR` with its `--model`
            and the `--data-dir` its image paths are relative to), as `sophia-eval run` decodes them

Configurations: `generate` (option decode=generate: HF `generate`, `num_return_sequences`) and
`loop` (the default: finished rows leave the batch, one prefill per prompt for its samples);
for sampling also bf16 and the shapes experiment's deduplicating sampler. Prints wall time,
generated tokens per second, the speed-up over the first configuration and, for greedy, how many
outputs equal `generate`'s.

    .venv/bin/python perf/decode_loop.py sampling --model /work/exp/shapes/reasoner/final   # SmolLM2
    .venv/bin/python perf/decode_loop.py sampling                    # tiny random Qwen2 (plumbing only)
    .venv/bin/python perf/decode_loop.py eval --run RUN_DIR --model MODEL_DIR --data-dir DATA --limit 512
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "train" / "experiments"))


def sampling_workload(args):
    from shapes import task
    from shapes.fast_sampling import make_fast
    from sophia_eval.backends.base import GenerationConfig
    from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions
    from sophia_eval.bench.sample import Sample
    from sophia_eval.sophia.prompts import reasoning_messages

    model = args.model
    if model is None:
        import tiny_models

        model = str(tiny_models.build_text_model(tempfile.mkdtemp()))
    rows = task.generate(2, args.prompts)
    convs = [reasoning_messages(Sample(benchmark="shapes", id=r["id"], question=r["question"], answer=r["answer"]),
                                r["caption"]) for r in rows]
    convs = [c for c in convs for _ in range(2)]
    cfg = GenerationConfig(n=args.n, temperature=1.0, top_p=0.8, max_new_tokens=args.max_new_tokens, seed=0)
    bs = args.batch_size
    makers = {
        "generate-fp32": lambda: TransformersGenerator(model, TransformersOptions(batch_size=bs, decode="generate")),
        "generate-bf16": lambda: TransformersGenerator(model, TransformersOptions(batch_size=bs, decode="generate",
                                                                                  dtype="bfloat16")),
        "loop-fp32": lambda: TransformersGenerator(model, TransformersOptions(batch_size=bs)),
        "loop-bf16": lambda: TransformersGenerator(model, TransformersOptions(batch_size=bs, dtype="bfloat16")),
        "loop-bf16+dedup": lambda: make_fast(model, batch_size=bs, dtype="bfloat16"),
    }
    head = f"model {model}; {len(convs)} prompts ({args.prompts} distinct) x n={args.n}, max_new_tokens {args.max_new_tokens}"
    return head, convs, cfg, makers


def eval_workload(args):
    from sophia_eval.backends.base import GenerationConfig
    from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions

    if not (args.run and args.model):
        raise SystemExit("eval needs --run (a harness run directory) and --model")
    lines = (Path(args.run) / "samples.jsonl").read_text().splitlines()
    convs = [json.loads(x)["prompt"] for x in lines[: args.limit] if x.strip()]
    if args.data_dir:
        os.chdir(args.data_dir)  # recorded image paths are relative to the data root
    cfg = GenerationConfig(n=1, temperature=0.0, max_new_tokens=args.max_new_tokens, seed=0)
    bs = args.batch_size
    makers = {
        "generate": lambda: TransformersGenerator(args.model, TransformersOptions(batch_size=bs, decode="generate")),
        "loop": lambda: TransformersGenerator(args.model, TransformersOptions(batch_size=bs)),
    }
    return f"model {args.model}; {len(convs)} recorded prompts, greedy, max_new_tokens {args.max_new_tokens}", convs, cfg, makers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=["sampling", "eval"])
    ap.add_argument("--model", default=None, help="model directory (sampling default: a tiny random Qwen2)")
    ap.add_argument("--run", default=None, help="eval: a harness run directory whose prompts are replayed")
    ap.add_argument("--data-dir", default=None, help="eval: the data root the recorded image paths are relative to")
    ap.add_argument("--limit", type=int, default=512, help="eval: first N recorded prompts")
    ap.add_argument("--prompts", type=int, default=16, help="sampling: distinct prompts (each sent twice)")
    ap.add_argument("--n", type=int, default=4, help="sampling: samples per prompt")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default: 64 (sampling), 120 (eval)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.max_new_tokens is None:
        args.max_new_tokens = 64 if args.workload == "sampling" else 120

    import torch

    torch.set_num_threads(args.threads)
    head, convs, cfg, makers = (sampling_workload if args.workload == "sampling" else eval_workload)(args)
    print(f"{head}; batch {args.batch_size}, {args.threads} thread(s)")
    base, reference = None, None
    for name, make in makers.items():
        gen = make()
        t0 = time.perf_counter()
        out = gen.generate(convs, cfg)
        dt = time.perf_counter() - t0
        tokens = sum(c.completion_tokens or 0 for comps in out for c in comps)
        base = base or dt
        texts = [c.text for comps in out for c in comps]
        reference = reference or texts
        same = f"  same as {next(iter(makers))}: {sum(a == b for a, b in zip(texts, reference))}/{len(texts)}" \
            if cfg.greedy else ""
        print(f"{name:16s} {dt:8.1f} s  {tokens / dt:8.1f} generated tok/s  speed-up x{base / dt:.2f}{same}")
        del gen


if __name__ == "__main__":
    main()
