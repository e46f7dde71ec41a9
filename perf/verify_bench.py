"""Verifier benchmark: sophia-eval's verifier versus math-verify on real gold answers.

Every gold answer of MathVision (test), OlympiadBench (OE_TO_maths_en_COMP) and MATH-500 is
paired with correct predictions in several surface forms and with wrong predictions; both
verifiers judge the same pairs in the same run. Reported: throughput per CPU core (items per
CPU-second, counting our worker processes), p50/p99/max latency, accuracy against the known
labels, and checks over the time budget.

    .venv/bin/python perf/verify_bench.py [--data-dir DIR] [--limit N] [--workers 1]

Data root: --data-dir, else $SOPHIA_EVAL_DATA, else ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any


@dataclass
class Pair:
    source: str
    gold: str
    pred: str
    label: bool
    form: str
    meta: dict[str, Any] = field(default_factory=dict)


# ---- data ------------------------------------------------------------------------------
def load_golds(data_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(source, gold, verify metadata) for every gold answer of the three benchmarks."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    mv = data_dir / "mathvision/data/test.jsonl"
    for line in mv.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        meta: dict[str, Any] = {}
        if r.get("options"):
            meta["options"] = r["options"]
        out.append(("mathvision", r["answer"], meta))
    ob = data_dir / "olympiadbench/OE_TO_maths_en_COMP/test.jsonl"
    types = {"Numerical": "numeric", "Expression": "expression", "Tuple": "tuple", "Interval": "interval",
             "Equation": "equation"}
    for line in ob.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        fa = r["final_answer"]
        fa = fa if isinstance(fa, list) else [fa]
        gold = ", ".join(a.strip().strip("$").strip() for a in fa)
        meta = {"answer_type": types.get(r.get("answer_type")), "multiple": bool(r.get("is_multiple_answer"))}
        if r.get("error") not in (None, "None", ""):
            meta["tolerance"] = r["error"]
        if r.get("unit") not in (None, "None", ""):
            meta["unit"] = r["unit"]
        out.append(("olympiadbench", gold, {k: v for k, v in meta.items() if v is not None}))
    m5 = data_dir / "text_math/math500/test.jsonl"
    for line in m5.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        out.append(("math500", r["answer"], {}))
    return out


def _clean_gold(gold: str) -> str:
    g = gold.strip()
    m = re.fullmatch(r"\$?\\boxed\{(.*)\}\$?", g, re.DOTALL)
    return m.group(1) if m else g


def _alt_number(g: str) -> str | None:
    """Another surface form of a plain number (fraction <-> decimal, 1000 -> 1,000)."""
    m = re.fullmatch(r"-?\d+", g)
    if m:
        return f"{int(g):,}" if abs(int(g)) >= 1000 else f"{g}.0"
    m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", g)
    if m and int(m.group(3)) and 10**6 % int(m.group(3)) == 0:
        v = Fraction(int(m.group(2)), int(m.group(3)))
        return m.group(1) + str(float(v))
    m = re.fullmatch(r"-?\d+\.\d+", g)
    if m:
        v = Fraction(g)
        return f"\\frac{{{v.numerator}}}{{{v.denominator}}}" if v.denominator <= 1000 else None
    return None


def _wrong(g: str) -> str:
    """A wrong prediction of the same kind as the gold."""
    if re.fullmatch(r"[A-E]", g):
        return "ABCDE"[("ABCDE".index(g) + 1) % 5]
    m = re.fullmatch(r"-?\d+(?:\.\d+)?", g)
    if m:
        v = Fraction(g) + 1
        return str(v.numerator) if v.denominator == 1 else str(float(v))
    if g.startswith("(") and "," in g:
        return g[:-1] + ", 0)" if g.endswith(")") else g + "+1"
    return f"{g}+1" if "=" not in g else g + "+1"


def build_pairs(golds: list[tuple[str, str, dict[str, Any]]]) -> list[Pair]:
    pairs: list[Pair] = []
    for source, raw, meta in golds:
        g = _clean_gold(raw)
        if not g or re.search(r"[\x00-\x1f]", g):
            continue  # bad golds are reported by check_gold, not benchmarked
        pairs.append(Pair(source, raw, f"So the answer is $\\boxed{{{g}}}$.", True, "boxed", meta))
        pairs.append(Pair(source, raw, f"Thinking it through...\nTherefore, the final answer is {g}.", True,
                          "phrase", meta))
        alt = _alt_number(g)
        if alt is None and "\\frac" in g:
            alt = g.replace("\\frac", "\\dfrac")
        if alt is None and re.fullmatch(r"[A-E]", g):
            alt = f"({g})"
        if alt is not None:
            pairs.append(Pair(source, raw, f"We get \\boxed{{{alt}}}", True, "alt_form", meta))
        wrong = _wrong(g)
        pairs.append(Pair(source, raw, f"So the answer is $\\boxed{{{wrong}}}$.", False, "wrong", meta))
        if re.fullmatch(r"-?\d+(?:\.\d+)?", g) and float(g) != 0:
            # the OlympiadBench judge's known false positive: gold*100 / gold/100 accepted
            pairs.append(Pair(source, raw, f"\\boxed{{{Fraction(g) * 100}}}", False, "scaled_x100", meta))
        parts = _top_level_parts(g)
        if len(parts) > 1 and meta.get("multiple"):
            pairs.append(Pair(source, raw, f"\\boxed{{{', '.join(reversed(parts))}}}", True, "reordered", meta))
        pairs.append(Pair(source, raw, f"It is \\boxed{{{g}}} or maybe \\boxed{{{wrong}}}", False, "hedge", meta))
    return pairs


def _top_level_parts(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*parts, cur.strip()]


# ---- runners ---------------------------------------------------------------------------
def _children_cpu(pids: list[int]) -> float:
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_ours(pairs: list[Pair], workers: int, timeout: float) -> dict[str, Any]:
    from sophia_eval.verify import VerifierPool

    items = [{"gold": p.gold, "pred": p.pred, "timeout": timeout, **p.meta} for p in pairs]
    with VerifierPool(workers=workers, timeout=timeout) as pool:
        pool.start()  # spawning the workers is not measured
        pool.verify_many(items[: min(50, len(items))])
        pids = pool.pids()
        cpu0, kids0, t0 = time.process_time(), _children_cpu(pids), time.perf_counter()
        verdicts = pool.verify_many(items)
        wall = time.perf_counter() - t0
        pids = list({*pids, *pool.pids()})
        cpu = time.process_time() - cpu0 + _children_cpu(pids) - kids0
        restarts = pool.restarts
    lat = [v.elapsed_s for v in verdicts]
    return {"name": "sophia-eval", "wall": wall, "cpu": cpu, "lat": lat,
            "ok": [v.correct == p.label for v, p in zip(verdicts, pairs)],
            "over_budget": sum(x > timeout for x in lat), "restarts": restarts,
            "statuses": _count(v.status for v in verdicts), "verdicts": verdicts}


def run_math_verify(pairs: list[Pair], timeout: float) -> dict[str, Any]:
    from math_verify import parse, verify

    lat, ok = [], []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for p in pairs:
        s = time.perf_counter()
        try:
            res = bool(verify(parse(f"${_clean_gold(p.gold)}$"), parse(p.pred), timeout_seconds=int(max(1, timeout))))
        except Exception:  # math-verify raises on some inputs; count as a wrong verdict
            res = False
        lat.append(time.perf_counter() - s)
        ok.append(res == p.label)
    return {"name": "math-verify", "wall": time.perf_counter() - t0, "cpu": time.process_time() - cpu0,
            "lat": lat, "ok": ok, "over_budget": sum(x > timeout for x in lat), "restarts": 0, "statuses": {}}


def _count(xs: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return out


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def timing_table(results: list[dict[str, Any]], unit: str, quality_header: str, quality: Any) -> list[str]:
    """Per verifier: throughput per CPU-second, p50/p99/max latency, `quality(result)`, checks over
    budget; then the throughput ratio of the first to the second (shared with verify_real_bench)."""
    lines = [f"| verifier | {unit} | items/CPU-s | p50 ms | p99 ms | max ms | {quality_header} | over budget |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        n = len(r["lat"])
        lines.append(f"| {r['name']} | {n} | {n / max(r['cpu'], 1e-9):.0f} | {1e3 * statistics.median(r['lat']):.2f} | "
                     f"{1e3 * _pct(r['lat'], 0.99):.1f} | {1e3 * max(r['lat']):.0f} | {quality(r)} | {r['over_budget']} |")
    if len(results) == 2:
        a, b = results
        lines.append("")
        lines.append(f"throughput ratio (per CPU-second) {a['name']}/{b['name']}: "
                     f"{(len(a['lat']) / a['cpu']) / (len(b['lat']) / b['cpu']):.1f}x; "
                     f"p99 latency ratio {b['name']}/{a['name']}: {_pct(b['lat'], .99) / _pct(a['lat'], .99):.1f}x "
                     f"(CPU s: {a['cpu']:.1f} vs {b['cpu']:.1f}; wall s: {a['wall']:.1f} vs {b['wall']:.1f})")
    return lines


def report(results: list[dict[str, Any]], pairs: list[Pair]) -> str:
    lines = timing_table(results, "pairs", "accuracy", lambda r: f"{100 * sum(r['ok']) / len(r['ok']):.2f}%")
    by_src: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_src.setdefault(f"{p.source}/{p.form}", []).append(i)
    lines.append("")
    lines.append("| subset | n | " + " | ".join(f"{r['name']} acc" for r in results) + " |")
    lines.append("|---|---|" + "---|" * len(results))
    for key in sorted(by_src):
        idx = by_src[key]
        accs = " | ".join(f"{100 * sum(r['ok'][i] for i in idx) / len(idx):.1f}%" for r in results)
        lines.append(f"| {key} | {len(idx)} | {accs} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("SOPHIA_EVAL_DATA", "../shared/data"))
    ap.add_argument("--limit", type=int, default=None, help="use only the first N pairs")
    ap.add_argument("--workers", type=int, default=1, help="sophia-eval worker processes")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--skip-math-verify", action="store_true")
    ap.add_argument("--show-errors", type=int, default=0, help="print N pairs where sophia-eval is wrong")
    args = ap.parse_args(argv)
    data_dir = Path(args.data_dir)
    if not (data_dir / "mathvision").is_dir():
        print(f"data dir {data_dir} has no mathvision/; pass --data-dir or set SOPHIA_EVAL_DATA", file=sys.stderr)
        return 2
    pairs = build_pairs(load_golds(data_dir))[: args.limit]
    print(f"{len(pairs)} pairs from {data_dir}", file=sys.stderr)
    results = [run_ours(pairs, args.workers, args.timeout)]
    if not args.skip_math_verify:
        results.append(run_math_verify(pairs, args.timeout))
    print(report(results, pairs))
    print(f"\nsophia-eval statuses: {results[0]['statuses']}; workers restarted: {results[0]['restarts']}")
    shown = 0
    for p, v, ok in zip(pairs, results[0]["verdicts"], results[0]["ok"]):
        if not ok and shown < args.show_errors:
            shown += 1
            print(f"WRONG [{p.source}/{p.form}] gold={p.gold!r} pred={p.pred[-80:]!r} label={p.label} "
                  f"-> {v.status} {v.method} {v.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
