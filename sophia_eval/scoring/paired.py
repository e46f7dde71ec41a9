"""Paired significance tests for comparing two runs on the same items.

- `mcnemar_exact(b, c)`: exact (binomial) McNemar test on the discordant pairs, for pass@1 with
  one binary outcome per item in each run. It is exact, so it stays valid for the small counts
  that tiny CPU runs and per-category slices produce.
- `paired_bootstrap(a, b)`: resample items with replacement and recompute the mean difference;
  used when an item's score is not binary (several samples per item: per-item mean accuracy).

Both are two-sided. Scores are per item, in [0, 1]; differences are reported as B - A. Pure
Python + numpy, no I/O.
"""

from __future__ import annotations

import math
from fractions import Fraction
from dataclasses import dataclass
from typing import Sequence

from sophia_eval.scoring.intervals import bootstrap_means, percentile_interval

_BOOTSTRAP_CHUNK = 256  # resamples drawn per numpy call; bounds memory at chunk x n_items ints


@dataclass(frozen=True)
class PairedTest:
    """Result of a paired comparison of run B against run A over the same items."""

    method: str
    """`mcnemar_exact` or `paired_bootstrap`."""
    n_items: int
    """Items both runs scored (the paired set)."""
    mean_a: float
    """Mean per-item score of A, in [0, 1]."""
    mean_b: float
    delta: float
    """mean_b - mean_a, in [0, 1] units (multiply by 100 for points)."""
    p_value: float
    """Two-sided p-value for 'no difference'."""
    ci_low: float | None = None
    """Lower end of the 95% bootstrap interval of delta (None when not computed)."""
    ci_high: float | None = None
    b_only: int | None = None
    """McNemar: items A got right and B wrong (discordant pairs, B regressed)."""
    c_only: int | None = None
    """McNemar: items A got wrong and B right (discordant pairs, B improved)."""


def _check_pairs(a: Sequence[float], b: Sequence[float]) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"paired test needs one score per item in each run; got {len(a)} and {len(b)} scores. "
            "Restrict both runs to the items they share first"
        )
    for name, values in (("A", a), ("B", b)):
        for i, v in enumerate(values):
            if not (0.0 <= float(v) <= 1.0) or math.isnan(float(v)):
                raise ValueError(f"run {name} item {i}: score {v!r} is outside [0, 1]")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    b = items right in A and wrong in B, c = wrong in A and right in B. Under 'no difference'
    each discordant item is a fair coin, so p = min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)]).
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    # Exact rational arithmetic, one conversion at the end: no overflow or underflow for large n.
    return min(1.0, float(Fraction(2 * tail, 2**n)))


def mcnemar_test(a: Sequence[bool], b: Sequence[bool]) -> PairedTest:
    """Exact McNemar test of per-item binary outcomes of B against A (same item order)."""
    _check_pairs([float(x) for x in a], [float(x) for x in b])
    n = len(a)
    if n == 0:
        raise ValueError("paired test needs at least one item scored by both runs")
    regressed = sum(1 for x, y in zip(a, b) if x and not y)
    improved = sum(1 for x, y in zip(a, b) if y and not x)
    mean_a = sum(bool(x) for x in a) / n
    mean_b = sum(bool(y) for y in b) / n
    return PairedTest(
        method="mcnemar_exact",
        n_items=n,
        mean_a=mean_a,
        mean_b=mean_b,
        delta=mean_b - mean_a,
        p_value=mcnemar_exact(regressed, improved),
        b_only=regressed,
        c_only=improved,
    )


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedTest:
    """Paired bootstrap over items of the mean difference B - A.

    The p-value uses the shifted bootstrap distribution as the null: p = (1 + #{|d* - d| >= |d|})
    / (1 + R), where d is the observed mean difference and d* a resampled one. The interval is the
    percentile interval of d*. With identical scores p is 1; with the same nonzero difference on
    every item p is 1 / (1 + R), the smallest value R resamples can show.
    """
    import numpy as np

    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    _check_pairs(a, b)
    n = len(a)
    if n == 0:
        raise ValueError("paired test needs at least one item scored by both runs")
    diffs = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    observed = float(diffs.mean())
    resampled = bootstrap_means(diffs, n_resamples, seed, _BOOTSTRAP_CHUNK)
    # Tolerance so that float noise in identical resample means is not counted as a difference.
    extreme = np.abs(resampled - observed) >= abs(observed) - 1e-12
    p_value = float((1 + int(extreme.sum())) / (1 + n_resamples))
    low, high = percentile_interval(resampled, confidence)
    return PairedTest(
        method="paired_bootstrap",
        n_items=n,
        mean_a=float(np.mean(a)),
        mean_b=float(np.mean(b)),
        delta=observed,
        p_value=min(1.0, p_value),
        ci_low=low,
        ci_high=high,
    )


def paired_test(
    a: Sequence[float],
    b: Sequence[float],
    *,
    binary: bool,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> PairedTest:
    """McNemar (p-value) plus a bootstrap interval when `binary`, else the paired bootstrap.

    `binary` means each run has exactly one scored sample per item (pass@1 as a 0/1 outcome).
    """
    boot = paired_bootstrap(a, b, n_resamples=n_resamples, seed=seed)
    if not binary:
        return boot
    exact = mcnemar_test([bool(x) for x in a], [bool(y) for y in b])
    return PairedTest(
        method=exact.method,
        n_items=exact.n_items,
        mean_a=exact.mean_a,
        mean_b=exact.mean_b,
        delta=exact.delta,
        p_value=exact.p_value,
        ci_low=boot.ci_low,
        ci_high=boot.ci_high,
        b_only=exact.b_only,
        c_only=exact.c_only,
    )
