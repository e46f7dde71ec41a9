"""Verifier benchmark on real model outputs: sophia-eval versus math-verify, in one run.

Reads `<data>/real_outputs/` (responses real models wrote, with their publishers' labels; see its
README): GeoQA and SuperCLEVR (R1-V's Qwen2-VL logs), MMMU-Pro (GPT-4o, four settings),
Qwen2.5-Math samples on MATH, TheoremQA (four base models) and ToRA on GSM8K. Both verifiers
judge every (gold, response) pair in the same process. Reported per verifier: items per
CPU-second (our worker processes counted: live ones from /proc, exited ones from
RUSAGE_CHILDREN), p50/p99/max latency, statuses, checks over the budget, and agreement with the
publishers' labels where there are labels (TheoremQA and ToRA have none per item: their
accuracy is printed beside the published figure instead).

    .venv/bin/python perf/verify_real_bench.py [--data-dir DIR] [--limit-per-corpus N]
        [--skip-math-verify] [--dump-disagreements FILE] [--reviewed FILE]

Our disagreements with the labels are matched against the reviewed file
`perf/real_output_disagreements.jsonl` (each classified ours / label / ambiguous, with why)
and counted per class; one whose verdict changed since the review counts as unreviewed.

Data root: --data-dir, else $SOPHIA_EVAL_DATA, else ../shared/data.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).parent))
from verify_bench import _children_cpu, _count, _pct, timing_table  # noqa: E402  (sibling script)


@dataclass
class Item:
    corpus: str
    key: str
    gold: str
    pred: str
    label: bool | None  # the publisher's scorer; None where the corpus has no per-item label
    meta: dict[str, Any] = field(default_factory=dict)


# ---- corpora ---------------------------------------------------------------------------
def _truthy(x: Any) -> bool:
    return x is True or str(x).strip().lower() == "true"


def load_geoqa(root: Path) -> Iterator[Item]:
    for path in sorted((root / "geoqa_r1v").glob("*_legacy.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        counting = path.name.startswith("counting")
        for i, r in enumerate(data["results"]):
            if counting:  # the log keeps R1-V's extraction; its scorer compares it with the gold
                ext = str(r.get("extracted_answer", "")).strip()
                label = ext == str(r["ground_truth"]).strip()
            else:
                label = _truthy(r["is_correct"])
            yield Item("superclevr" if counting else "geoqa", f"{path.stem}:{i}", str(r["ground_truth"]),
                       r["model_output"], label)


def load_mmmu_pro(root: Path) -> Iterator[Item]:
    for path in sorted((root / "mmmu_pro_gpt4o").glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            r = json.loads(line)
            opts = r["options"]
            opts = ast.literal_eval(opts) if isinstance(opts, str) else opts
            yield Item("mmmu_pro", f"{path.stem}:{i}", r["answer"], r["response"] or "", _truthy(r["if_right"]),
                       {"options": [str(o) for o in opts]})


def load_qwen25math(root: Path) -> Iterator[Item]:
    path = root / "qwen25math_example/math_cot_100.jsonl"
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        r = json.loads(line)
        for j, (resp, score) in enumerate(zip(r["code"], r["score"])):
            yield Item("qwen25math", f"{i}:{j}", r["gt"], resp, bool(score))


_THEOREMQA_TYPES = {"bool": {"answer_type": "boolean"}, "float": {"rel_tolerance": 0.04}}  # its scorer: 4% slack


def load_theoremqa(root: Path) -> Iterator[Item]:
    golds = {g["Question"]: g for g in json.loads((root / "theoremqa/gold/theoremqa_test.json").read_text())}
    for path in sorted((root / "theoremqa/outputs").glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            r = json.loads(line)
            g = golds.get(r["question"])
            if g is None:
                continue
            yield Item("theoremqa", f"{path.stem}:{i}", str(g["Answer"]), r["solution"] or "", None,
                       dict(_THEOREMQA_TYPES.get(g["Answer_type"], {})))


def load_tora(root: Path) -> Iterator[Item]:
    for path in sorted((root / "tora_gsm8k").glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            r = json.loads(line)
            yield Item("tora_gsm8k", f"{path.stem}:{i}", str(r["gt"]), r["code"][0], None)


LOADERS = (load_geoqa, load_mmmu_pro, load_qwen25math, load_theoremqa, load_tora)
PUBLISHED = {"tora_gsm8k": "published (the files' .metrics): 84.3% (tora-70b), 80.7% (tora-code-34b), mean 82.5%"}


def load_all(root: Path, limit: int | None) -> list[Item]:
    items: list[Item] = []
    for loader in LOADERS:
        items.extend(list(loader(root))[:limit])
    return items


# ---- runners ---------------------------------------------------------------------------
def _reaped_children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_ours(items: list[Item], timeout: float) -> dict[str, Any]:
    from sophia_eval.verify import VerifierPool

    reqs = [{"gold": it.gold, "pred": it.pred, "timeout": timeout, **it.meta} for it in items]
    with VerifierPool(workers=1, timeout=timeout) as pool:
        pool.start()  # spawning the worker is not measured
        pool.verify_many([{"gold": "x^2", "pred": "\\boxed{x\\cdot x}"}])  # warm: sympy imported
        pids = set(_pool_pids(pool))
        live0 = _children_cpu(sorted(pids))
        cpu0, reaped0, t0 = time.process_time(), _reaped_children_cpu(), time.perf_counter()
        verdicts = pool.verify_many(reqs)
        wall = time.perf_counter() - t0
        pids |= set(_pool_pids(pool))
        cpu = time.process_time() - cpu0 + _children_cpu(sorted(pids)) - live0 + _reaped_children_cpu() - reaped0
        restarts = getattr(pool, "restarts", 0)
    lat = [v.elapsed_s for v in verdicts]
    return {"name": "sophia-eval", "wall": wall, "cpu": cpu, "lat": lat, "correct": [v.correct for v in verdicts],
            "statuses": _count(v.status for v in verdicts), "over_budget": sum(x > timeout for x in lat),
            "restarts": restarts, "verdicts": verdicts}


def _pool_pids(pool: Any) -> list[int]:
    """Worker pids, to count their CPU (`VerifierPool.pids()` where it exists, else the idle queue)."""
    if hasattr(pool, "pids"):
        return list(pool.pids())
    idle = getattr(pool, "_idle", None)
    workers = list(idle.queue) if idle is not None else []
    return [w.proc.pid for w in workers if getattr(w, "proc", None) is not None]


def run_math_verify(items: list[Item], timeout: float) -> dict[str, Any]:
    from math_verify import parse, verify

    lat, correct, statuses = [], [], {"correct": 0, "incorrect": 0, "error": 0}
    cpu0, t0 = time.process_time(), time.perf_counter()
    for it in items:
        s = time.perf_counter()
        try:
            res = bool(verify(parse(f"${it.gold}$"), parse(it.pred), timeout_seconds=int(max(1, timeout))))
            statuses["correct" if res else "incorrect"] += 1
        except Exception:  # math-verify raises on some inputs: a wrong verdict
            res = False
            statuses["error"] += 1
        lat.append(time.perf_counter() - s)
        correct.append(res)
    return {"name": "math-verify", "wall": time.perf_counter() - t0, "cpu": time.process_time() - cpu0,
            "lat": lat, "correct": correct, "statuses": statuses, "over_budget": sum(x > timeout for x in lat),
            "restarts": 0}


# ---- report ----------------------------------------------------------------------------
def _agreement(r: dict[str, Any], items: list[Item], idx: list[int]) -> str:
    lab = [i for i in idx if items[i].label is not None]
    if not lab:
        acc = 100 * sum(r["correct"][i] for i in idx) / max(len(idx), 1)
        return f"(no labels; accuracy {acc:.1f}%)"
    return f"{100 * sum(r['correct'][i] == items[i].label for i in lab) / len(lab):.1f}%"


def report(results: list[dict[str, Any]], items: list[Item]) -> str:
    everything = list(range(len(items)))
    lines = timing_table(results, "items", "agreement (labelled)", lambda r: _agreement(r, items, everything))
    by_corpus: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_corpus.setdefault(it.corpus, []).append(i)
    lines += ["", "| corpus | n | " + " | ".join(f"{r['name']} agreement" for r in results)
              + " | sophia-eval p99 ms | sophia-eval statuses |", "|---|---|" + "---|" * (len(results) + 2)]
    ours = results[0]
    for corpus, idx in by_corpus.items():
        lat = [ours["lat"][i] for i in idx]
        st = _count(ours["verdicts"][i].status for i in idx)
        lines.append(f"| {corpus} | {len(idx)} | " + " | ".join(_agreement(r, items, idx) for r in results)
                     + f" | {1e3 * _pct(lat, 0.99):.1f} | {dict(sorted(st.items()))} |")
    for corpus, text in PUBLISHED.items():
        lines.append(f"\n{corpus}: {text}")
    return "\n".join(lines)


def disagreements(items: list[Item], ours: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for it, v in zip(items, ours["verdicts"]):
        if it.label is not None and v.correct != it.label:
            out.append({"corpus": it.corpus, "key": it.key, "gold": it.gold, "label": it.label,
                        "ours": v.status, "method": v.method, "extracted": v.extracted, "reason": v.reason,
                        "tail": it.pred[-300:]})
    return out


def _reviewed(path: Path) -> dict[tuple[str, str, str], str]:
    """(corpus, key, our status) -> class, from the reviewed file; a verdict that changed since the
    review no longer matches and shows as unreviewed."""
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(r["corpus"], r["key"], r["ours"]): r["class"] for r in rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("SOPHIA_EVAL_DATA", "../shared/data"))
    ap.add_argument("--limit-per-corpus", type=int, default=None, help="first N items of each loader")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--skip-math-verify", action="store_true")
    ap.add_argument("--dump-disagreements", default=None, help="write our disagreements with labels (jsonl)")
    ap.add_argument("--reviewed", default=str(Path(__file__).with_name("real_output_disagreements.jsonl")),
                    help="reviewed disagreements (class: ours / label / ambiguous); '' to skip")
    args = ap.parse_args(argv)
    root = Path(args.data_dir) / "real_outputs"
    if not root.is_dir():
        print(f"{root} not found; pass --data-dir or set SOPHIA_EVAL_DATA", file=sys.stderr)
        return 2
    items = load_all(root, args.limit_per_corpus)
    print(f"{len(items)} responses from {root}", file=sys.stderr)
    results = [run_ours(items, args.timeout)]
    if not args.skip_math_verify:
        results.append(run_math_verify(items, args.timeout))
    print(report(results, items))
    print(f"\nsophia-eval statuses: {dict(sorted(results[0]['statuses'].items()))}; "
          f"workers restarted: {results[0]['restarts']}")
    if len(results) == 2:
        print(f"math-verify outcomes: {results[1]['statuses']}")
    dis = disagreements(items, results[0])
    print(f"sophia-eval disagreements with labels: {len(dis)} ({dict(sorted(_count(d['corpus'] for d in dis).items()))})")
    reviewed = _reviewed(Path(args.reviewed)) if args.reviewed else {}
    classes = [reviewed.get((d["corpus"], d["key"], d["ours"]), "unreviewed") for d in dis]
    print(f"classified (reviewed file {args.reviewed}): {dict(sorted(_count(classes).items()))}")
    if args.dump_disagreements:
        with open(args.dump_disagreements, "w", encoding="utf-8") as f:
            for d in dis:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
