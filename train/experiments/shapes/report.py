"""The report stage of the shapes experiment: `sophia-eval compare` of every model against the base
and of SOPHIA against each variant trained with the same seed (paired), `sophia-eval leaderboard`
over all runs, `results.md|json` (with the machine they ran on) and `plot.svg`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from shapes.stages import PROTOCOLS, VARIANTS, models_to_evaluate, shuffled_models


def _accuracy(run_dir: Path) -> float | None:
    """Accuracy (percent) of a harness run directory, recomputed from its samples."""
    f = run_dir / "samples.jsonl"
    if not f.exists():
        return None
    rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    scores = [float(r.get("correct") or 0) for r in rows]  # harness sample records: `correct` per sample
    return 100 * sum(scores) / len(scores) if scores else None


def _compare(exp, reference: Path, candidates: list[Path], out: Path, markdown: bool = False) -> list[dict]:
    """`sophia-eval compare reference candidates...` into `out`.json (and .md); its per-benchmark
    results, one per candidate."""
    args = ["compare", str(reference), *map(str, candidates), "--json", str(out.with_suffix(".json")), "--flips", "0"]
    exp.wait(exp.cli(args + (["--markdown", str(out.with_suffix(".md"))] if markdown else []), out.name))
    comps = json.loads(out.with_suffix(".json").read_text())
    return [b for c in (comps if isinstance(comps, list) else [comps]) for b in c["benchmarks"]]


def stage_report(exp) -> None:
    """`sophia-eval compare` base vs every model, per protocol; a table, a JSON and an SVG plot."""
    t0 = time.time()
    report = exp.work / "report"
    report.mkdir(parents=True, exist_ok=True)
    names = list(models_to_evaluate(exp))
    table: dict[str, dict[str, Any]] = {n: {} for n in names}
    for protocol in PROTOCOLS:
        root = exp.work / "evaluate" / "eval" / protocol
        for b in _compare(exp, root / "base", [root / n for n in names[1:]], report / f"compare-{protocol}",
                          markdown=True):
            name = Path(b["run_b"]).name
            table[name][protocol] = {k: b[k] for k in ("b", "delta", "ci_low", "ci_high", "p_value", "n_items")}
            table["base"][protocol] = {"b": b["a"], "n_items": b["n_items"]}
            table[name][f"{protocol}_qtype"] = {cd["value"]: cd["b"] for cd in b["categories"] if cd["field"] == "qtype"}
            table["base"][f"{protocol}_qtype"] = {cd["value"]: cd["a"] for cd in b["categories"] if cd["field"] == "qtype"}
    against_sophia = _compare_sophia_with_variants(exp, report, set(names))
    exp.wait(exp.cli(["leaderboard", str(exp.work / "evaluate" / "eval"), "--out", str(report / "leaderboard")],
                     "leaderboard"))
    data_info = json.loads((exp.work / "data" / "done.json").read_text())
    controls = json.loads((exp.work / "controls" / "done.json").read_text()) if (exp.work / "controls" / "done.json").exists() else {}
    shuffled = {n: _accuracy(exp.work / "evaluate" / "eval_shuffled" / "greedy" / n)
                for n in shuffled_models(exp)}
    selection = json.loads((exp.work / "select" / "done.json").read_text()).get("summaries", {})
    result = {"table": table, "sophia_vs": against_sophia, "majority": data_info.get("majority"),
              "shuffled_images_greedy": shuffled, "two_stage": controls.get("two_stage"), "selection": selection,
              "times_s": exp.times, "machine": machine(),
              "scale": vars(exp.scale) if hasattr(exp.scale, "__dict__") else None}
    (report / "results.json").write_text(json.dumps(result, indent=2, default=str))
    (report / "results.md").write_text(results_markdown(result, exp.scale.train_seeds))
    refs = {"majority answer": 100 * (data_info.get("majority") or {}).get("overall", 0)}
    if controls.get("two_stage"):
        refs["two-stage (policy caption -> reasoner)"] = controls["two_stage"]["accuracy"]
    (report / "plot.svg").write_text(plot_svg(table, exp.scale.train_seeds, refs))
    exp.mark("report", exp.key("report", t=time.time()), t0)


def _compare_sophia_with_variants(exp, report: Path, evaluated: set[str]) -> dict[str, dict[str, dict]]:
    """SOPHIA against every other variant trained with the same seed, paired (`sophia-eval compare`
    with SOPHIA as the reference): {variant: {"greedy-s0": {delta, ci_low, ci_high, p_value}, ...}}."""
    out: dict[str, dict[str, dict]] = {}
    for protocol in PROTOCOLS:
        root = exp.work / "evaluate" / "eval" / protocol
        for seed in exp.scale.train_seeds:
            others = [f"{v}-s{seed}" for v in VARIANTS[1:] if f"{v}-s{seed}" in evaluated]
            if f"sophia-s{seed}" not in evaluated or not others:
                continue
            for b in _compare(exp, root / f"sophia-s{seed}", [root / n for n in others],
                              report / f"compare-sophia-{protocol}-s{seed}"):
                variant = Path(b["run_b"]).name.rsplit("-s", 1)[0]
                out.setdefault(variant, {})[f"{protocol}-s{seed}"] = sophia_minus(b)
    return out


def sophia_minus(b: dict[str, Any]) -> dict[str, Any]:
    """A compare result with SOPHIA as run A turned into SOPHIA minus the other (B): the paired
    bootstrap's percentile interval of A - B is the negated interval of B - A."""
    flip = lambda x: None if x is None else -x  # noqa: E731
    return {"delta": flip(b["delta"]), "ci_low": flip(b["ci_high"]), "ci_high": flip(b["ci_low"]),
            "p_value": b["p_value"], "n_items": b["n_items"]}


def machine() -> dict[str, Any]:
    """What the numbers depend on beyond the seeds: the same command gave other weights (and numbers)
    on another CPU, likely because matrix kernels (AVX2, AVX-512, AVX-512 BF16, AMX) round and sum
    differently. Read without importing torch (the driver stays small)."""
    from importlib import metadata
    info: dict[str, Any] = {}
    try:
        info["torch"] = metadata.version("torch")
    except metadata.PackageNotFoundError:
        info["torch"] = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    fields = dict(line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    info["cpu"] = fields.get("model name")
    info["cpu_flags"] = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    info["cores"] = cpuinfo.count("processor\t:")
    return info


def _variant_mean(table: dict, variant: str, seeds, protocol: str) -> tuple[float | None, list[float]]:
    vals = [table.get(f"{variant}-s{s}", {}).get(protocol, {}).get("b") for s in seeds]
    vals = [v for v in vals if v is not None]
    return (sum(vals) / len(vals) if vals else None), vals


def _fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def results_markdown(result: dict, seeds) -> str:
    t = result["table"]
    lines = ["| model | greedy pass@1 (%) | delta vs base [95% CI] | sampled pass@1 (%) | delta vs base [95% CI] |",
             "|---|---|---|---|---|"]
    for name, row in t.items():
        cells = [name]
        for protocol in PROTOCOLS:
            r = row.get(protocol, {})
            cells.append(_fmt(r.get("b")))
            cells.append("" if name == "base" else
                         f"{_fmt(r.get('delta'))} [{_fmt(r.get('ci_low'))}, {_fmt(r.get('ci_high'))}]")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| variant (mean over seeds) | greedy | sampled |", "|---|---|---|"]
    for v in ("base", *VARIANTS):
        if v == "base":
            g, s = t["base"].get("greedy", {}).get("b"), t["base"].get("sampled", {}).get("b")
        else:
            g, s = _variant_mean(t, v, seeds, "greedy")[0], _variant_mean(t, v, seeds, "sampled")[0]
        lines.append(f"| {v} | {_fmt(g)} | {_fmt(s)} |")
    maj = result.get("majority") or {}
    lines += ["", f"Controls: majority answer {_fmt(100 * maj.get('overall', 0))}%; shuffled images (greedy) "
              + ", ".join(f"{k} {_fmt(v)}%" for k, v in result["shuffled_images_greedy"].items())
              + (f"; two-stage (policy caption -> reasoner, greedy, first {result['two_stage']['n']} items) "
                 f"{_fmt(result['two_stage']['accuracy'])}% [{_fmt(result['two_stage']['ci'][0])}, "
                 f"{_fmt(result['two_stage']['ci'][1])}] with {_fmt(result['two_stage']['exact_captions'])}% exact "
                 "captions" if result.get("two_stage") else "")]
    vs = result.get("sophia_vs") or {}
    if vs:
        cols = [f"{p}-s{s}" for p in PROTOCOLS for s in seeds]
        lines += ["", "SOPHIA minus each variant trained with the same seed (paired, 95% CI, p):", "",
                  "| SOPHIA vs | " + " | ".join(c.replace("-s", ", seed ") for c in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for variant, by_col in vs.items():
            cells = [by_col.get(c) for c in cols]
            lines.append(f"| {variant} | " + " | ".join(
                "-" if r is None else f"{r['delta']:+.1f} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] {_p(r['p_value'])}"
                for r in cells) + " |")
    qt = [k for k in t["base"].get("greedy_qtype", {})]
    if qt:
        lines += ["", "Greedy pass@1 by question type (%):", "", "| model | " + " | ".join(qt) + " |",
                  "|---|" + "---|" * len(qt)]
        for name, row in t.items():
            q = row.get("greedy_qtype", {})
            lines.append(f"| {name} | " + " | ".join(_fmt(q.get(k)) for k in qt) + " |")
    m = result.get("machine") or {}
    if m:
        lines += ["", f"Machine: {m.get('cpu')}, {m.get('cores')} cores, flags {' '.join(m.get('cpu_flags', []))}; "
                  f"torch {m.get('torch')}"]
    return "\n".join(lines) + "\n"


def _p(p: float | None) -> str:
    return "" if p is None else ("p<0.001" if p < 0.001 else f"p={p:.2g}")


def plot_svg(table: dict, seeds, refs: dict[str, float] | None = None) -> str:
    """Grouped bars (greedy, sampled) per variant, seed values as dots, `refs` (controls) as dashed
    lines; plain SVG, no plotting library."""
    groups = ["base", *VARIANTS]
    colors = {"greedy": "#4477aa", "sampled": "#ee7733"}
    w, h, left, bottom, top = 560, 260, 40, 40, 20
    bw = (w - left - 20) / len(groups)
    refs = refs or {}
    ymax = max([v for n in table.values() for p in PROTOCOLS for v in [n.get(p, {}).get("b")] if v is not None]
               + list(refs.values()) + [10])
    ymax = min(100.0, (int(ymax / 10) + 1) * 10)
    y = lambda v: top + (h - top - bottom) * (1 - v / ymax)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="10">']
    for tick in range(0, int(ymax) + 1, 10):
        out.append(f'<line x1="{left}" x2="{w - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" text-anchor="end">{tick}</text>')
    for i, g in enumerate(groups):
        x0 = left + i * bw
        for j, p in enumerate(PROTOCOLS):
            if g == "base":
                mean, vals = table["base"].get(p, {}).get("b"), []
            else:
                mean, vals = _variant_mean(table, g, seeds, p)
            if mean is None:
                continue
            bx = x0 + 8 + j * (bw - 16) / 2
            out.append(f'<rect x="{bx:.1f}" y="{y(mean):.1f}" width="{(bw - 16) / 2 - 2:.1f}" '
                       f'height="{y(0) - y(mean):.1f}" fill="{colors[p]}"/>')
            for v in vals:
                out.append(f'<circle cx="{bx + (bw - 16) / 4 - 1:.1f}" cy="{y(v):.1f}" r="2.5" fill="black"/>')
        out.append(f'<text x="{x0 + bw / 2:.1f}" y="{h - bottom + 14}" text-anchor="middle">{g}</text>')
    for k, (label, v) in enumerate(refs.items()):
        out.append(f'<line x1="{left}" x2="{w - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#555" '
                   f'stroke-dasharray="{4 + 3 * k},3"/><text x="{w - 12}" y="{y(v) - 3:.1f}" text-anchor="end" '
                   f'fill="#555">{label} {v:.1f}</text>')
    out.append(f'<text x="{left}" y="12">pass@1 (%) on 2000 shapes eval items; bars: mean over seeds, dots: seeds</text>')
    for j, p in enumerate(PROTOCOLS):
        out.append(f'<rect x="{w - 150 + j * 70}" y="{h - 14}" width="10" height="10" fill="{colors[p]}"/>'
                   f'<text x="{w - 136 + j * 70}" y="{h - 5}">{p}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
