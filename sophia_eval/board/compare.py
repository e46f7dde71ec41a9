"""Compare runs item by item: per-benchmark deltas with paired significance, per-category deltas,
and the items that flipped.

Runs are paired by (benchmark, split). Two runs are comparable only under the same protocol:
same split and data, decoding (seed aside), prompt template, system prompt, hint, judge, item
selection and verifier version. Otherwise `compare_runs` raises `ProtocolMismatch` listing the
differences, unless `force=True`, in which case the differences are carried on the result and
shown as flags. An item counts when both runs scored it (see `sophia_eval.scoring.metrics`: backend
errors, timeouts and unparsable gold are not scored); its score is the fraction of its scored
samples that are correct. One scored sample per item in both runs gives binary outcomes and the
exact McNemar test; otherwise the paired bootstrap over items.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from sophia_eval.runs.reading import RunInfo, RunReadError, load_runs
from sophia_eval.scoring.metrics import group_items
from sophia_eval.scoring.paired import PairedTest, paired_test
from sophia_eval.runs.store import RunStore

MAX_CATEGORY_VALUES = 40
"""Category fields with more distinct values (e.g. DynaMath seed ids) are left out of the breakdown."""
# Not protocol: which model, how it is served, where the judge is served, the sampling seed, and
# which predictions file an import read (every checkpoint's predictions come from its own file).
_IGNORED_CONFIG = {"model", "backend", "generation.seed", "protocol.seed", "protocol.name", "judge.base_url",
                   "source.path", "source.sha256_16"}


class ProtocolMismatch(RuntimeError):
    """Two runs differ in protocol; comparing them needs `--force` (and is then flagged)."""


@dataclass(frozen=True)
class CategoryDelta:
    field: str
    value: str
    n_items: int
    a: float
    """Percent."""
    b: float
    delta: float
    """Points, B - A."""
    p_value: float


@dataclass(frozen=True)
class Flip:
    item_id: str
    direction: str
    """`fixed` (A wrong, B right) or `broken` (A right, B wrong); majority of samples when n > 1."""
    a_score: float
    b_score: float
    a_answer: str | None
    b_answer: str | None
    gold: str | None


@dataclass(frozen=True)
class BenchmarkComparison:
    benchmark: str
    split: str
    run_a: RunInfo
    run_b: RunInfo
    test: PairedTest
    only_a: int
    """Items scored in A but not in B (left out of the paired test)."""
    only_b: int
    categories: tuple[CategoryDelta, ...]
    flips: tuple[Flip, ...]
    differences: tuple[str, ...] = ()
    """Protocol differences (non-empty only when forced)."""
    skipped_fields: tuple[str, ...] = ()

    @property
    def delta_points(self) -> float:
        return 100 * self.test.delta


@dataclass(frozen=True)
class Comparison:
    reference: str
    """The argument the others are compared against (A)."""
    candidate: str
    benchmarks: tuple[BenchmarkComparison, ...]
    unmatched: tuple[str, ...] = ()
    """Benchmarks present on only one side."""

    @property
    def average(self) -> tuple[float, float, float] | None:
        """SOPHIA-style unweighted means over the compared benchmarks: (A %, B %, B - A points)."""
        if len(self.benchmarks) < 2:
            return None
        a = sum(100 * b.test.mean_a for b in self.benchmarks) / len(self.benchmarks)
        b = sum(100 * b.test.mean_b for b in self.benchmarks) / len(self.benchmarks)
        return a, b, b - a


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): obj}


def protocol_differences(a: RunInfo, b: RunInfo) -> list[str]:
    """Human-readable differences in everything that defines the protocol of two runs."""
    fa, fb = _flatten(a.config), _flatten(b.config)
    diffs = []
    for key in sorted(set(fa) | set(fb)):
        if key in _IGNORED_CONFIG or key.split(".")[0] in _IGNORED_CONFIG:
            continue
        # The protocol block repeats fields recorded elsewhere (generation.*, top-level prompt
        # settings, resolved there); report each difference once, under its resolved name.
        leaf = key.partition(".")[2]
        if key.startswith("protocol.") and any(k in fa or k in fb for k in (f"generation.{leaf}", leaf)):
            continue
        if fa.get(key) != fb.get(key):
            diffs.append(f"{key}: {fa.get(key)!r} vs {fb.get(key)!r}")
    if a.verifier_version != b.verifier_version:
        diffs.append(
            f"verifier_version: {a.verifier_version!r} vs {b.verifier_version!r} "
            "(re-score both with `sophia-eval score` to align)"
        )
    return diffs


def _items(run: RunInfo) -> tuple[dict[str, Any], dict[str, str | None]]:
    records = list(RunStore.open(run.path).records())
    if not records:
        raise RunReadError(f"{run.path / 'samples.jsonl'}: no records; nothing to compare")
    gold = {str(r["item_id"]): (None if r.get("gold") is None else str(r.get("gold"))) for r in records}
    return {it.item_id: it for it in group_items(records) if it.n_scored > 0}, gold


def _score(item: Any) -> float:
    return item.n_correct / item.n_scored


def _first_answer(item: Any) -> str | None:
    return next((a for a in item.answers if a is not None), None)


def compare_runs(
    a: RunInfo, b: RunInfo, *, force: bool = False, n_resamples: int = 10_000, seed: int = 0
) -> BenchmarkComparison:
    """Item-level comparison of run B against run A on the same benchmark and split."""
    if (a.benchmark, a.split) != (b.benchmark, b.split):
        raise ProtocolMismatch(
            f"{a.path} is {a.benchmark}:{a.split} but {b.path} is {b.benchmark}:{b.split}; "
            "runs are compared on the same benchmark and split only"
        )
    diffs = protocol_differences(a, b)
    if diffs and not force:
        raise ProtocolMismatch(
            f"{a.path} and {b.path} were run under different protocols:\n  - " + "\n  - ".join(diffs)
            + "\nRerun one of them to match, or pass --force to compare anyway (the result is flagged)."
        )
    items_a, gold = _items(a)
    items_b, gold_b = _items(b)
    shared = [i for i in items_a if i in items_b]
    if not shared:
        raise ProtocolMismatch(f"{a.path} and {b.path} have no scored item in common; nothing to compare")
    sa = [_score(items_a[i]) for i in shared]
    sb = [_score(items_b[i]) for i in shared]
    binary = all(items_a[i].n_scored == 1 and items_b[i].n_scored == 1 for i in shared)
    test = paired_test(sa, sb, binary=binary, n_resamples=n_resamples, seed=seed)

    by_field: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for idx, item_id in enumerate(shared):
        for fld, value in items_a[item_id].categories.items():
            by_field[fld][value].append(idx)
    categories, skipped = [], []
    for fld in sorted(by_field):
        groups = by_field[fld]
        if len(groups) > MAX_CATEGORY_VALUES:
            skipped.append(f"{fld} ({len(groups)} values)")
            continue
        for value in sorted(groups):
            idx = groups[value]
            t = paired_test([sa[i] for i in idx], [sb[i] for i in idx], binary=binary,
                            n_resamples=min(n_resamples, 2000), seed=seed)
            categories.append(CategoryDelta(fld, value, len(idx), 100 * t.mean_a, 100 * t.mean_b, 100 * t.delta, t.p_value))

    flips = []
    for item_id, x, y in zip(shared, sa, sb):
        if (x >= 0.5) != (y >= 0.5):
            flips.append(Flip(
                item_id=item_id, direction="fixed" if y >= 0.5 else "broken", a_score=x, b_score=y,
                a_answer=_first_answer(items_a[item_id]), b_answer=_first_answer(items_b[item_id]),
                gold=gold.get(item_id) or gold_b.get(item_id),
            ))
    return BenchmarkComparison(
        benchmark=a.benchmark, split=a.split, run_a=a, run_b=b, test=test,
        only_a=sum(1 for i in items_a if i not in items_b), only_b=sum(1 for i in items_b if i not in items_a),
        categories=tuple(categories), flips=tuple(flips), differences=tuple(diffs) if force else (),
        skipped_fields=tuple(skipped),
    )


def _by_benchmark(runs: Sequence[RunInfo], side: str) -> dict[tuple[str, str], RunInfo]:
    out: dict[tuple[str, str], RunInfo] = {}
    for run in runs:
        key = (run.benchmark, run.split)
        if key in out:
            raise RunReadError(
                f"{side} holds two runs of {key[0]}:{key[1]} ({out[key].path} and {run.path}); "
                "pass the run directories you mean directly"
            )
        out[key] = run
    return out


def compare_paths(
    reference: str, candidate: str, *, force: bool = False, n_resamples: int = 10_000, seed: int = 0
) -> Comparison:
    """Compare every benchmark run under `candidate` with the same benchmark's run under `reference`.

    Each path is a run directory or a directory of runs (e.g. all benchmarks of one checkpoint).
    """
    runs_a, skipped_a = load_runs([reference])
    runs_b, skipped_b = load_runs([candidate])
    for path, reason in skipped_a + skipped_b:
        raise RunReadError(f"{path}: cannot compare an unfinished run ({reason})")
    a, b = _by_benchmark(runs_a, reference), _by_benchmark(runs_b, candidate)
    common = [k for k in a if k in b]
    if not common:
        raise ProtocolMismatch(
            f"{reference} ({sorted(':'.join(k) for k in a)}) and {candidate} "
            f"({sorted(':'.join(k) for k in b)}) share no benchmark/split; nothing to compare"
        )
    results = tuple(compare_runs(a[k], b[k], force=force, n_resamples=n_resamples, seed=seed) for k in common)
    unmatched = tuple(sorted(":".join(k) for k in set(a) ^ set(b)))
    return Comparison(reference=reference, candidate=candidate, benchmarks=results, unmatched=unmatched)


def comparison_to_dict(c: Comparison) -> dict[str, Any]:
    """JSON-ready form of a comparison (for `--json`)."""
    out = {"reference": c.reference, "candidate": c.candidate, "unmatched": list(c.unmatched),
           "average": None if c.average is None else dict(zip(("a", "b", "delta"), c.average)), "benchmarks": []}
    for bc in c.benchmarks:
        t = bc.test
        out["benchmarks"].append({
            "benchmark": bc.benchmark, "split": bc.split, "run_a": str(bc.run_a.path), "run_b": str(bc.run_b.path),
            "model_a": bc.run_a.model, "model_b": bc.run_b.model, "n_items": t.n_items,
            "a": 100 * t.mean_a, "b": 100 * t.mean_b, "delta": 100 * t.delta, "p_value": t.p_value,
            "method": t.method, "ci_low": None if t.ci_low is None else 100 * t.ci_low,
            "ci_high": None if t.ci_high is None else 100 * t.ci_high,
            "only_a": bc.only_a, "only_b": bc.only_b, "differences": list(bc.differences),
            "categories": [vars(cd) for cd in bc.categories], "skipped_fields": list(bc.skipped_fields),
            "flips": [vars(f) for f in bc.flips],
        })
    return out


def comparison_to_markdown(c: Comparison, *, max_flips: int = 50) -> str:
    """A readable report: per-benchmark deltas, per-category deltas, flipped items."""
    lines = [f"# B: {c.candidate} vs A: {c.reference}", "", "Δ = B - A (points); A is the reference.", "",
             "| Benchmark | Items | A % | B % | Δ points | 95% CI | p | Test | Flags |", "|---|---:|---:|---:|---:|---|---:|---|---|"]
    for bc in c.benchmarks:
        t = bc.test
        ci = "" if t.ci_low is None else f"{100 * t.ci_low:+.1f} to {100 * t.ci_high:+.1f}"
        flags = ("FORCED, protocols differ: " + "; ".join(bc.differences)) if bc.differences else ""
        if bc.only_a or bc.only_b:
            flags += f" {bc.only_a} item(s) only in A, {bc.only_b} only in B (left out)"
        lines.append(f"| {bc.benchmark}:{bc.split} | {t.n_items} | {100 * t.mean_a:.2f} | {100 * t.mean_b:.2f} | "
                     f"{100 * t.delta:+.2f} | {ci} | {t.p_value:.4g} | {t.method} | {flags.strip().replace('|', '/')} |")
    if c.average is not None:
        a, b, d = c.average
        lines.append(f"| average of {len(c.benchmarks)} (unweighted) | | {a:.2f} | {b:.2f} | {d:+.2f} | | | | |")
    if c.unmatched:
        lines += ["", f"On one side only (not compared): {', '.join(c.unmatched)}"]
    for bc in c.benchmarks:
        lines += ["", f"## {bc.benchmark}:{bc.split}", ""]
        if bc.categories:
            lines += ["| Field | Value | Items | A % | B % | Δ | p |", "|---|---|---:|---:|---:|---:|---:|"]
            lines += [f"| {d.field} | {d.value} | {d.n_items} | {d.a:.1f} | {d.b:.1f} | {d.delta:+.1f} | {d.p_value:.4g} |"
                      for d in bc.categories]
            lines += ["", "_Per-category p-values are not corrected for multiple comparisons._", ""]
        for direction, label in (("fixed", "wrong in A, right in B"), ("broken", "right in A, wrong in B")):
            flips = [f for f in bc.flips if f.direction == direction]
            lines.append(f"**{len(flips)} item(s) {label}**" + (f" (first {max_flips})" if len(flips) > max_flips else ""))
            lines += [f"- `{f.item_id}`: gold `{f.gold}`; A `{f.a_answer}` ({f.a_score:.2f}) -> B `{f.b_answer}` ({f.b_score:.2f})"
                      for f in flips[:max_flips]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
