"""Batched vs one-at-a-time generation throughput with the transformers backend.

Generates the same prompts (greedy, fixed `max_new_tokens`) at several batch sizes and reports
wall time, generated tokens per second and prompts per second, plus whether every batched
output equals the one-at-a-time output (left padding must not change greedy decoding).

    .venv/bin/python perf/generation_batching.py                        # tiny random Qwen2
    .venv/bin/python perf/generation_batching.py --model demo           # SmolLM2-135M GGUF
    .venv/bin/python perf/generation_batching.py --kind qwen2vl --images  # tiny VLM + image
    ... --prompts 32 --max-new-tokens 32 --batch-sizes 1,4,8,16 --json out.json

Threads: torch uses all cores it is given; pin with OMP_NUM_THREADS / --threads for stable numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # tiny_models lives with the test fixtures

QUESTIONS = [
    "What is 2 + 3?",
    "Solve for x: 2x + 4 = 10.",
    "A triangle has sides 3, 4 and 5. What is its area?",
    "Compute 17 * 23.",
    "If f(x) = x^2 - 1, what is f(5)?",
    "What is the sum of the first 10 positive integers? Think step by step.",
    "Simplify \\frac{6}{8}.",
    "How many degrees are in the interior angles of a hexagon, in total?",
]


def build_model(kind: str, model: str | None, root: Path) -> str:
    if model == "demo":
        from sophia_eval.backends.demo import demo_model_path

        return str(demo_model_path())
    if model:
        return model
    import tiny_models

    return str(tiny_models.BUILDERS[kind](root))


def conversations(n: int, images: bool) -> list[list[dict]]:
    convs = []
    for i in range(n):
        q = QUESTIONS[i % len(QUESTIONS)] + " " * (i // len(QUESTIONS))  # vary lengths a little
        if images:
            import tiny_models

            img = tiny_models.make_image((40 + 8 * (i % 5), 30 + 6 * (i % 3)))
            convs.append([{"role": "user", "content": [{"type": "image", "image": img}, {"type": "text", "text": q}]}])
        else:
            convs.append([{"role": "user", "content": q}])
    return convs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model dir / .gguf / hub id, or 'demo'; default: a tiny random model")
    ap.add_argument("--kind", default="text", choices=["text", "qwen2vl", "qwen25vl", "llava"], help="tiny model kind")
    ap.add_argument("--images", action="store_true", help="attach an image to each prompt (VLM kinds)")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-sizes", default="1,4,8,16,32")
    ap.add_argument("--repeats", type=int, default=3, help="rounds over all batch sizes; the median is reported")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    args = ap.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table

    from sophia_eval.backends import make_generator
    from sophia_eval.backends.base import GenerationConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    config = GenerationConfig(temperature=0, max_new_tokens=args.max_new_tokens)
    convs = conversations(args.prompts, args.images)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(args.kind, args.model, Path(tmp))
        t0 = time.perf_counter()
        gen = make_generator("transformers", model, batch_size=1)
        load_s = time.perf_counter() - t0
        console.print(f"model {model} ({gen.describe()['model_class']}) loaded in {load_s:.1f} s; "
                      f"{args.prompts} prompts, {args.max_new_tokens} new tokens, torch threads {torch.get_num_threads()}")
        gen.generate(convs[:2], config)  # warm-up (kernels, allocator)
        # Round-robin over batch sizes, `repeats` times, median wall time per size: on a shared
        # machine, load drifts over minutes and would otherwise favour whichever size ran last.
        walls: dict[int, list[float]] = {bs: [] for bs in sizes}
        texts: dict[int, list[str]] = {}
        stats: dict[int, tuple[int, int]] = {}
        load_before = os.getloadavg()[0]
        for rep in range(args.repeats):
            for bs in sizes:
                gen.options = type(gen.options)(**{**gen.options.__dict__, "batch_size": bs})
                t0 = time.perf_counter()
                out = gen.generate(convs, config)
                walls[bs].append(time.perf_counter() - t0)
                texts[bs] = [c[0].text for c in out]
                stats[bs] = (sum(c[0].completion_tokens or 0 for c in out), sum(c[0].finish_reason == "error" for c in out))
                console.print(f"round {rep + 1} batch {bs:>3}: {walls[bs][-1]:7.2f} s")
        load_after = os.getloadavg()[0]
        rows = []
        for bs in sizes:
            wall = statistics.median(walls[bs])
            tokens, errors = stats[bs]
            rows.append({
                "batch_size": bs, "wall_s": round(wall, 3), "wall_s_all": [round(w, 3) for w in walls[bs]],
                "completion_tokens": tokens, "tokens_per_s": round(tokens / wall, 1),
                "prompts_per_s": round(len(convs) / wall, 2),
                "same_as_sequential": sum(a == b for a, b in zip(texts[bs], texts[sizes[0]])), "errors": errors,
            })
        console.print(f"load average (1 min): {load_before:.1f} before, {load_after:.1f} after")
    base = rows[0]["wall_s"]
    table = Table(title=f"transformers backend: batched vs one-at-a-time ({Path(model).name})")
    for col in ("batch size", "wall s", "tokens/s", "prompts/s", "speed-up", f"same as bs={sizes[0]}", "errors"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["batch_size"]), f"{r['wall_s']:.2f}", f"{r['tokens_per_s']:.1f}", f"{r['prompts_per_s']:.2f}",
                      f"{base / r['wall_s']:.2f}x", f"{r['same_as_sequential']}/{len(convs)}", str(r["errors"]))
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"model": model, "load_s": load_s, "args": {k: str(v) for k, v in vars(args).items()},
                                         "load_avg": [load_before, load_after], "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
