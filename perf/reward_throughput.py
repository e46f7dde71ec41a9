"""Rewards per second for one realistic batch: in-process, through a worker pool, through the reward server.

The batch is real model responses with their gold answers (GeoQA/R1-V and SuperCLEVR, MMMU-Pro
GPT-4o standard setting with its options, Qwen2.5-Math MATH samples, ToRA GSM8K), read in place
from `real_outputs/` and repeated in order up to `--n` items. The three modes score the same
batch in the same run:
- in-process: `OutcomeReward()` (checks in the calling thread, sympy parts on the default pool);
- pool: `OutcomeReward(workers=W)` (W threads, each with its worker process);
- server: `sophia-eval reward-server --workers W` in its own process, the batch sent as requests of
  `--request-size` items from `--clients` client threads.
Worker start-up is excluded from every timing (each mode is warmed up first).

    .venv/bin/python perf/reward_throughput.py [--n 16384] [--workers 2] [--data-dir DIR]

Data root: --data-dir, else $SOPHIA_EVAL_DATA, else ../shared/data.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sophia_eval.reward import OutcomeReward  # noqa: E402
from sophia_eval.reward_server import RewardClient  # noqa: E402

Item = tuple[Any, str, "list[str] | None"]  # gold, completion, options


def load_batch(data_dir: Path, n: int) -> list[Item]:
    ro = data_dir / "real_outputs"
    items: list[Item] = []
    for f in sorted((ro / "geoqa_r1v").glob("*_legacy.json")):
        for r in json.loads(f.read_text(encoding="utf-8"))["results"]:
            items.append((r["ground_truth"], r["model_output"], None))
    for f in sorted((ro / "mmmu_pro_gpt4o").glob("*standard10opts*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            items.append((r["answer"], r["response"], ast.literal_eval(r["options"])))
    for line in (ro / "qwen25math_example/math_cot_100.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        items.extend((r["gt"], c, None) for c in r["code"])
    for line in (ro / "tora_gsm8k/tora-70b-v1.0.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        items.append((r["gt"], r["code"][0], None))
    return [items[i % len(items)] for i in range(n)]


def run_reward(reward: OutcomeReward, batch: list[Item]) -> tuple[float, list[float | None]]:
    golds, comps, opts = zip(*batch)
    reward(list(comps[:50]), answer=list(golds[:50]), options=list(opts[:50]))  # warm-up, not timed
    start = time.perf_counter()
    out = reward(list(comps), answer=list(golds), options=list(opts))
    return time.perf_counter() - start, out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_server(batch: list[Item], workers: int, request_size: int, clients: int) -> tuple[float, list[float | None]]:
    port = free_port()
    exe = Path(sys.executable).parent / "sophia-eval"
    cmd = [str(exe), "reward-server", "--port", str(port), "--workers", str(workers), "--max-concurrency", str(clients)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"reward server did not come up: {' '.join(cmd)}") from None
                time.sleep(0.2)
        client = RewardClient(url)
        metas = [None if o is None else {"options": o} for _, _, o in batch]
        client.rewards([g for g, _, _ in batch[:50]], [c for _, c, _ in batch[:50]], metas[:50])  # warm-up
        chunks = [range(i, min(i + request_size, len(batch))) for i in range(0, len(batch), request_size)]

        def send(idx: range) -> list[float | None]:
            return client.rewards([batch[i][0] for i in idx], [batch[i][1] for i in idx], [metas[i] for i in idx])

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as ex:
            parts = list(ex.map(send, chunks))
        elapsed = time.perf_counter() - start
        return elapsed, [r for p in parts for r in p]
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16384)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--request-size", type=int, default=1024)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    data_dir = args.data_dir or Path(os.environ.get("SOPHIA_EVAL_DATA", ROOT.parent / "shared/data"))
    batch = load_batch(data_dir, args.n)
    print(f"{len(batch)} rewards (real responses from {data_dir / 'real_outputs'}); {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)

    results: dict[str, tuple[float, list[float | None]]] = {}
    results["in-process"] = run_reward(OutcomeReward(), batch)
    pooled = OutcomeReward(workers=args.workers)
    try:
        results[f"pool ({args.workers} workers)"] = run_reward(pooled, batch)
    finally:
        pooled.close()
    results[f"server ({args.workers} workers, {args.clients} clients x {args.request_size})"] = run_server(
        batch, args.workers, args.request_size, args.clients)

    base_elapsed, base = results["in-process"]
    print(f"{'mode':52s} {'seconds':>8s} {'rewards/s':>10s} {'vs in-process':>14s} {'None':>6s} {'differ':>7s}")
    for name, (elapsed, rewards) in results.items():
        differ = sum(a != b for a, b in zip(rewards, base))
        print(f"{name:52s} {elapsed:8.2f} {len(rewards) / elapsed:10.0f} {base_elapsed / elapsed:13.2f}x "
              f"{sum(r is None for r in rewards):6d} {differ:7d}")
    print("reward counts (in-process):", dict(Counter(base)))
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
