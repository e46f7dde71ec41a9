"""Confidence intervals, one implementation each: Wilson for a binomial proportion (run metrics,
published baselines) and the percentile bootstrap over items (run metrics, paired comparisons)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

Z_95 = 1.959963984540054
"""Two-sided 95% normal quantile, used by every Wilson interval."""


def _wilson(p: float, n: int, z: float) -> tuple[float, float]:
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, as fractions in [0, 1]."""
    if n <= 0:
        raise ValueError(f"wilson_interval needs n >= 1 trials, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n, got {successes} of {n}")
    return _wilson(successes / n, n, z)


def wilson_percent(value_percent: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Approximate 95% Wilson interval (percent) for a published accuracy over `n` items.

    Used for published baselines, which report no interval: it treats the number as one binary
    outcome per item, so it is a lower bound on the real uncertainty of a sampled (T > 0) run.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1 item, got {n}")
    if not 0 <= value_percent <= 100:
        raise ValueError(f"accuracy must be in [0, 100] percent, got {value_percent}")
    low, high = _wilson(value_percent / 100, n, z)
    return low * 100, high * 100


def bootstrap_means(values: Any, resamples: int, seed: int, chunk: int) -> np.ndarray:
    """Means of `resamples` resamples (with replacement, over items) of `values`, drawn `chunk`
    resamples at a time from one seeded stream (the chunk bounds memory and fixes the stream)."""
    arr = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=float)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, arr.size, size=(stop - start, arr.size))
        means[start:stop] = arr[idx].mean(axis=1)
    return means


def percentile_interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    """Central `confidence` interval of bootstrap means."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_interval(
    values: Sequence[float], *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over items (deterministic for a given seed)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    chunk = max(1, 2_000_000 // arr.size)  # bound memory: resample in chunks
    return percentile_interval(bootstrap_means(arr, resamples, seed, chunk), confidence)
