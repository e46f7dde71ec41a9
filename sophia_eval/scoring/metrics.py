"""Metrics over scored run records: pass@k, avg@n, maj@k, CIs, breakdowns, DynaMath, WeMath.

Pure Python + numpy, no I/O: it takes the record dicts of `samples.jsonl` (see docs/CONTRACTS.md)
and returns the `summary` mapping stored in `run.json`. All metric values are in percent.

What counts as wrong: a record is scored only when its status is `correct`, `incorrect` or
`no_answer` (the model gave no parsable answer: its fault). Backend errors, verifier timeouts,
unparsable gold answers and judge failures are *not scored*: they never lower a score; they are
counted in `status_counts` (and `judge_failures`) so a reader sees how much was left out, and an
item with no scored sample drops out of the denominators (`n_items` per metric says how many
items a value rests on).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from sophia_eval.bench.spec import METRICS
from sophia_eval.scoring.intervals import bootstrap_interval, wilson_interval
from sophia_eval.verify.vocab import SCORED_STATUSES

JUDGE_FAILURE_STATUS = "judge_error"
"""Record status when the optional LLM judge/extractor failed (never scored as wrong)."""


@dataclass(frozen=True)
class ItemResult:
    """All samples of one item, in sample-index order."""

    item_id: str
    outcomes: tuple[bool | None, ...]
    """Per sample: True/False when scored, None when not scored (error, timeout, ...)."""
    answers: tuple[str | None, ...]
    """Per sample: the extracted answer (for majority voting), None when nothing was extracted."""
    categories: Mapping[str, str] = field(default_factory=dict)

    @property
    def n_scored(self) -> int:
        return sum(o is not None for o in self.outcomes)

    @property
    def n_correct(self) -> int:
        return sum(o is True for o in self.outcomes)


def record_outcome(record: Mapping[str, Any]) -> bool | None:
    """True/False for a scored record, None for one that must not count (see module doc)."""
    if record.get("status") not in SCORED_STATUSES:
        return None
    return record.get("status") == "correct" or record.get("correct") is True


def group_items(records: Iterable[Mapping[str, Any]]) -> list[ItemResult]:
    """Group records by item (first-seen order), samples sorted by `sample_index`."""
    by_item: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_item.setdefault(str(record["item_id"]), []).append(record)
    items = []
    for item_id, recs in by_item.items():
        recs.sort(key=lambda r: int(r["sample_index"]))
        cats = next((r.get("categories") for r in recs if r.get("categories")), None) or {}
        items.append(
            ItemResult(
                item_id=item_id,
                outcomes=tuple(record_outcome(r) for r in recs),
                answers=tuple(_answer_key(r.get("extracted")) for r in recs),
                categories={str(k): str(v) for k, v in cats.items()},
            )
        )
    return items


def _answer_key(extracted: Any) -> str | None:
    if extracted is None:
        return None
    text = " ".join(str(extracted).split())
    return text or None


# -- estimators and intervals ------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), for n samples, c correct."""
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 1 <= k <= n, got k={k}, n={n}; draw at least k samples")
    if n - c < k:
        return 1.0
    # Product form avoids huge binomials: prod_{i=n-c+1}^{n} (1 - k/i).
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=float)))


def mean_metric(
    values: Sequence[float], *, ci: bool = True, seed: int = 0, samples_per_item: int = 1
) -> dict[str, Any]:
    """`{"value", "ci_low", "ci_high", "n_items", "ci_method"}` in percent for per-item scores in [0, 1].

    The interval follows the run's protocol, not the values: Wilson when the run has one sample
    per item (`samples_per_item == 1`: every value is a 0/1 outcome), otherwise the percentile
    bootstrap over items (seed `seed`, 2000 resamples), also for metrics whose per-item values
    happen to be 0/1 (maj@n, pass@n), so every metric of one run uses one method.
    """
    n = len(values)
    if n == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n_items": 0, "ci_method": None}
    mean = float(sum(values)) / n
    out: dict[str, Any] = {"value": round(100 * mean, 4), "n_items": n}
    if not ci:
        return out
    if samples_per_item <= 1:
        if not all(v in (0.0, 1.0) for v in values):
            raise ValueError("Wilson interval needs 0/1 per-item values (one sample per item)")
        low, high = wilson_interval(sum(values), n)
        method = "wilson"
    else:
        low, high = bootstrap_interval(values, seed=seed)
        method = "bootstrap"
    out.update(ci_low=round(100 * low, 4), ci_high=round(100 * high, 4), ci_method=method)
    return out


# -- per-item metrics ---------------------------------------------------------------------------


def _scored(items: Iterable[ItemResult]) -> list[ItemResult]:
    return [it for it in items if it.n_scored > 0]


def pass_at_k_values(items: Iterable[ItemResult], k: int) -> list[float]:
    """Per-item unbiased pass@k over the scored samples (items with fewer than k are left out)."""
    return [pass_at_k(it.n_scored, it.n_correct, k) for it in items if it.n_scored >= k]


def avg_values(items: Iterable[ItemResult]) -> list[float]:
    """Per-item fraction of scored samples that are correct (avg@n)."""
    return [it.n_correct / it.n_scored for it in _scored(items)]


def majority_correct(item: ItemResult, k: int | None = None) -> bool | None:
    """Is the most frequent extracted answer among the first k scored samples correct? (maj@k)

    Rules (maj@k has no single official definition; these are the choices):
    - only scored samples take part, in sample-index order: unscored ones (backend error,
      timeout, bad gold, judge failure) neither vote nor count towards k;
    - votes are extracted answers compared as whitespace-normalised strings, so answers that
      are equal only mathematically (`0.5`, `1/2`) are separate votes;
    - a scored sample with no extracted answer (`no_answer`) does not vote; if no sample of the
      first k votes, the item is wrong (it was scored and answered nothing);
    - a tie goes to the tied answer seen first (what `Counter.most_common` does);
    - the winner is correct when a sample giving it was verified correct;
    - an item with fewer than k scored samples votes with the ones it has (unlike pass@k,
      which leaves it out); None when nothing is scored (the item leaves the denominator).
    """
    pairs = [(_answer_key(a), o) for a, o in zip(item.answers, item.outcomes) if o is not None]
    if k is not None:
        pairs = pairs[:k]
    if not pairs:
        return None
    votes: Counter[str] = Counter(a for a, _ in pairs if a is not None)
    if not votes:
        return False
    top = max(votes.values())
    winner = next(a for a, _ in pairs if a is not None and votes[a] == top)
    return any(o for a, o in pairs if a == winner)


def maj_values(items: Iterable[ItemResult], k: int | None = None) -> list[float]:
    """Per-item maj@k as 0/1 over the items with a scored sample (see `majority_correct`)."""
    out = []
    for it in items:
        m = majority_correct(it, k)
        if m is not None:
            out.append(1.0 if m else 0.0)
    return out


def category_breakdown(items: Sequence[ItemResult], fields: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per category field, per value: avg@n (= pass@1) in percent and how many items it rests on."""
    out: dict[str, dict[str, Any]] = {}
    for fld in fields:
        groups: dict[str, list[ItemResult]] = defaultdict(list)
        for it in items:
            if fld in it.categories:
                groups[it.categories[fld]].append(it)
        if not groups:
            continue
        out[fld] = {}
        for value in sorted(groups, key=_natural_key):
            vals = avg_values(groups[value])
            out[fld][value] = {
                "value": round(100 * sum(vals) / len(vals), 4) if vals else None,
                "n_items": len(vals),
            }
    return out


def _natural_key(text: str) -> tuple[Any, ...]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


DYNAMATH_VARIANTS = 10
"""Variants per DynaMath seed question in the official sample (501 seeds x 10 = 5010 items)."""


def dynamath_worst_case(
    items: Sequence[ItemResult], seed_field: str = "seed", n_variants: int = DYNAMATH_VARIANTS
) -> dict[str, Any]:
    """DynaMath worst-case accuracy: a seed question counts only if all its variants are correct.

    The official metric is over 501 seeds with 10 variants each. A seed enters the metric only
    when the run has all `n_variants` of its variants and every one is scored; otherwise it is
    left out and counted in `n_seeds_incomplete`, whatever the variants that are there say. So a
    `--limit` run (which takes variant 1 of the first seeds) reports no worst case instead of
    plain accuracy, and a variant lost to a backend error or a bad gold neither makes its seed
    right nor wrong. The rule does not look at outcomes: leaving out only the seeds whose
    present variants are all right would bias the value down.

    With n samples per item, worst case is taken per sample index j (variant v's j-th sample) and
    averaged over the indices where every variant is scored; that equals the official definition
    when n = 1. The per-seed values feed `mean_metric` (Wilson for n = 1, bootstrap over seeds
    otherwise); `n_items` = `n_seeds` = seeds the value rests on.
    """
    seeds: dict[str, list[ItemResult]] = defaultdict(list)
    for it in items:
        if seed_field not in it.categories:
            raise ValueError(
                f"DynaMath worst case needs categories[{seed_field!r}] on every item; item "
                f"{it.item_id} has {sorted(it.categories)}: the loader must record each variant's seed"
            )
        seeds[it.categories[seed_field]].append(it)
    per_seed: list[float] = []
    incomplete = 0
    for variants in seeds.values():
        if len(variants) > n_variants:
            raise ValueError(
                f"DynaMath seed {variants[0].categories[seed_field]!r} has {len(variants)} variants in "
                f"the run, more than the {n_variants} expected"
            )
        n = min(len(v.outcomes) for v in variants)
        hits = [all(v.outcomes[j] for v in variants) for j in range(n)
                if all(v.outcomes[j] is not None for v in variants)]
        if len(variants) < n_variants or not hits:
            incomplete += 1
            continue
        per_seed.append(sum(hits) / len(hits))
    n_samples = max((len(it.outcomes) for it in items), default=1)
    metric = mean_metric(per_seed, samples_per_item=n_samples)
    metric["n_seeds"] = len(per_seed)
    metric["n_seeds_incomplete"] = incomplete
    return metric


WEMATH_DIMENSIONS = ("IK", "IG", "CM_strict", "CM_loose", "RM_strict", "RM_loose")
_WEMATH_STEP = re.compile(r"^(\d+)steps_(\d+|multi)$")


def _wemath_step(item: ItemResult, key: str) -> tuple[int, str] | None:
    """`2steps_1` -> (2, "1"), `3steps_multi` -> (3, "multi"), `1step` -> None (one-step problem)."""
    if key == "1step":
        return None
    m = _WEMATH_STEP.match(key)
    if not m or int(m.group(1)) < 2 or (m.group(2) != "multi" and not 1 <= int(m.group(2)) <= int(m.group(1))):
        raise ValueError(
            f"WeMath item {item.item_id}: step key {key!r} is not `1step`, `<N>steps_<i>` or `<N>steps_multi`"
        )
    return int(m.group(1)), m.group(2)


def wemath_scores(
    items: Sequence[ItemResult], problem_field: str = "problem_id", step_field: str = "step"
) -> dict[str, Any]:
    """WeMath four-dimensional metrics over the composite (2- and 3-step) problems.

    As the official script (We-Math/We-Math `evaluation/four_dimensional_metrics.py`): a problem
    is the N-step composite `<N>steps_multi` with its one-step sub-problems `<N>steps_1..N`,
    matched by `problem_id` within the same N. From the sub-problems and the composite:
    IK = some step wrong, composite wrong; IG = all steps right, composite wrong;
    CM strict = all steps right, composite right (loose: any step right, composite right);
    RM strict = some step wrong, composite right (loose: all steps wrong, composite right).
    IK, IG, CM rates are over the problems; RM rates are RM / (RM + CM) of the same variant.
    Score = (N - 0.5 IG - RM - IK) / N with that variant's RM count (official N = 525).
    `1step` items are not part of it. Values in percent.

    Choices where the official script is silent (it assumes one complete run with one sample):
    - a problem is classified only when its composite and all N sub-problems are in the run and
      scored; otherwise (cut by --limit, backend error, bad gold) it is left out of N and
      counted in `n_incomplete`, never counted as wrong or right;
    - with n samples per item, a problem is classified per sample index j over the indices where
      all its parts are scored, each index weighing 1 / (usable indices), so each problem still
      counts once in N.
    """
    problems: dict[tuple[str, int], dict[str, ItemResult]] = defaultdict(dict)
    for it in items:
        if problem_field in it.categories and step_field in it.categories:
            step = _wemath_step(it, it.categories[step_field])
            if step is None:
                continue  # a one-step problem: not part of the four-dimensional metric
            n_steps, part = step
            problems[(it.categories[problem_field], n_steps)][part] = it
    counts: Counter[str] = Counter()
    n_classified = 0
    incomplete = 0
    for (_, n_steps), parts in problems.items():
        steps = [parts.get(str(i)) for i in range(1, n_steps + 1)]
        multi = parts.get("multi")
        if multi is None or any(st is None for st in steps):
            incomplete += 1
            continue
        group = [*steps, multi]
        n = min(len(it.outcomes) for it in group)
        usable = [j for j in range(n) if all(it.outcomes[j] is not None for it in group)]
        if not usable:
            incomplete += 1
            continue
        w = 1.0 / len(usable)
        for j in usable:
            step_ok = [bool(st.outcomes[j]) for st in steps]
            if multi.outcomes[j]:
                counts["CM_strict" if all(step_ok) else "RM_strict"] += w
                counts["CM_loose" if any(step_ok) else "RM_loose"] += w
            else:
                counts["IG" if all(step_ok) else "IK"] += w
        n_classified += 1
    out: dict[str, Any] = {"n_problems": n_classified, "n_incomplete": incomplete}
    if not n_classified:
        out.update({dim: None for dim in WEMATH_DIMENSIONS}, score_strict=None, score_loose=None)
        return out
    total = n_classified
    for dim in ("IK", "IG", "CM_strict", "CM_loose"):
        out[dim] = round(100 * counts[dim] / total, 4)
    for mode in ("strict", "loose"):
        cm, rm = counts[f"CM_{mode}"], counts[f"RM_{mode}"]
        out[f"RM_{mode}"] = round(100 * rm / (cm + rm), 4) if cm + rm else None
        score = (total - 0.5 * counts["IG"] - rm - counts["IK"]) / total
        out[f"score_{mode}"] = round(100 * score, 4)
    return out


# -- run-level summaries ------------------------------------------------------------------------


def status_counts(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many records have each status (missing status counted as `unscored`)."""
    return dict(sorted(Counter(str(r.get("status") or "unscored") for r in records).items()))


def truncation_rate(records: Sequence[Mapping[str, Any]]) -> float | None:
    """Fraction of generated samples (errors excluded) that hit max_new_tokens (finish `length`)."""
    generated = [r for r in records if r.get("finish_reason") not in (None, "error")]
    if not generated:
        return None
    return round(sum(r.get("finish_reason") == "length" for r in generated) / len(generated), 6)


def _ks(n: int) -> list[int]:
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if n not in ks:
        ks.append(n)
    return ks


def summarize(
    records: Sequence[Mapping[str, Any]],
    *,
    metric: str = "accuracy",
    breakdown: Sequence[str] = (),
    seed_field: str = "seed",
    dynamath_variants: int = DYNAMATH_VARIANTS,
    wemath_fields: tuple[str, str] = ("problem_id", "step"),
    ci_seed: int = 0,
) -> dict[str, Any]:
    """The run.json `summary` (docs/CONTRACTS.md) for scored records of one run.

    `metric` is the benchmark's official metric: `accuracy`, `dynamath` (adds `worst_case`, over
    seeds that have all `dynamath_variants` variants scored) or
    `wemath` (adds `wemath_strict`/`wemath_loose` and the four dimensions under `wemath`).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    records = list(records)
    items = group_items(records)
    n = max((len(it.outcomes) for it in items), default=0)
    metrics: dict[str, Any] = {}
    if items:
        for k in _ks(n):
            metrics[f"pass@{k}"] = mean_metric(pass_at_k_values(items, k), seed=ci_seed, samples_per_item=n)
        if n > 1:
            metrics[f"avg@{n}"] = mean_metric(avg_values(items), seed=ci_seed, samples_per_item=n)
            metrics[f"maj@{n}"] = mean_metric(maj_values(items, n), seed=ci_seed, samples_per_item=n)
    summary: dict[str, Any] = {
        "n_items": len(items),
        "n_samples": len(records),
        "n_samples_per_item": n,
        "primary": "pass@1",
        "metrics": metrics,
        "categories": category_breakdown(items, breakdown),
        "status_counts": status_counts(records),
        "truncation_rate": truncation_rate(records),
        "judge_failures": sum(r.get("status") == JUDGE_FAILURE_STATUS for r in records),
        "n_unscored_items": sum(it.n_scored == 0 for it in items),
    }
    if metric == "dynamath" and items:
        metrics["worst_case"] = dynamath_worst_case(items, seed_field, dynamath_variants)
    if metric == "wemath":
        wm = wemath_scores(items, *wemath_fields)
        summary["wemath"] = wm
        for mode in ("strict", "loose"):
            metrics[f"wemath_{mode}"] = {"value": wm[f"score_{mode}"], "n_items": wm["n_problems"]}
        summary["primary"] = "wemath_strict"
    return summary
