"""Statistics against hand-computed cases (binomial tails and bootstrap distributions by hand)."""

import pytest

from sophia_eval.scoring.intervals import wilson_percent as wilson_interval
from sophia_eval.scoring.paired import mcnemar_exact, mcnemar_test, paired_bootstrap, paired_test


def test_mcnemar_no_discordant_pairs_is_p_one():
    assert mcnemar_exact(0, 0) == 1.0


def test_mcnemar_five_to_zero():
    # 2 * P[Bin(5, 1/2) <= 0] = 2 / 32
    assert mcnemar_exact(5, 0) == pytest.approx(0.0625)


def test_mcnemar_ten_to_two():
    # n = 12, k = 2: C(12,0) + C(12,1) + C(12,2) = 1 + 12 + 66 = 79; p = 2 * 79 / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(2 * 79 / 4096)


def test_mcnemar_is_symmetric_in_direction():
    # n = 10, k = 2: 1 + 10 + 45 = 56; p = 2 * 56 / 1024 = 0.109375 either way round
    assert mcnemar_exact(2, 8) == mcnemar_exact(8, 2) == pytest.approx(0.109375)


def test_mcnemar_balanced_counts_cap_at_one():
    assert mcnemar_exact(3, 3) == 1.0


def test_mcnemar_large_counts_do_not_underflow():
    # 2000 vs 0 discordant pairs: p = 2 / 2**2000, far below float precision but not an error.
    assert 0.0 <= mcnemar_exact(2000, 0) < 1e-300


def test_mcnemar_test_counts_discordant_items():
    a = [True, True, True, False, False, True]
    b = [True, False, False, True, False, True]
    result = mcnemar_test(a, b)
    assert (result.b_only, result.c_only, result.n_items) == (2, 1, 6)
    assert result.delta == pytest.approx(3 / 6 - 4 / 6)
    assert result.p_value == pytest.approx(1.0)  # n=3, k=1: 2 * (1 + 3) / 8 = 1


def test_bootstrap_identical_runs_give_p_one_and_zero_interval():
    scores = [1.0, 0.0, 0.5, 1.0]
    result = paired_bootstrap(scores, scores, n_resamples=500)
    assert (result.delta, result.p_value, result.ci_low, result.ci_high) == (0.0, 1.0, 0.0, 0.0)


def test_bootstrap_constant_improvement_gives_smallest_p():
    result = paired_bootstrap([0.0] * 7, [1.0] * 7, n_resamples=999)
    assert result.p_value == pytest.approx(1 / 1000)


def test_bootstrap_two_items_matches_exact_resampling_distribution():
    # diffs (1, 0): resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4;
    # |d* - 0.5| >= 0.5 holds for d* in {0, 1}, so p -> 1/2; the 95% interval is [0, 1].
    result = paired_bootstrap([0.0, 0.0], [1.0, 0.0], n_resamples=20_000, seed=1)
    assert result.delta == 0.5
    assert result.p_value == pytest.approx(0.5, abs=0.015)
    assert (result.ci_low, result.ci_high) == (0.0, 1.0)


def test_bootstrap_is_reproducible_with_a_seed():
    a, b = [0.0, 1.0, 0.25, 0.5, 0.75], [1.0, 1.0, 0.5, 0.25, 1.0]
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)


def test_paired_test_uses_mcnemar_for_binary_outcomes():
    result = paired_test([1, 1, 1, 1, 1], [0, 0, 0, 0, 0], binary=True, n_resamples=200)
    assert (result.method, result.p_value) == ("mcnemar_exact", pytest.approx(0.0625))


def test_paired_test_uses_bootstrap_for_mean_scores():
    result = paired_test([0.5, 0.25], [0.75, 0.5], binary=False, n_resamples=200)
    assert result.method == "paired_bootstrap"


def test_unequal_lengths_are_refused():
    with pytest.raises(ValueError, match="one score per item"):
        paired_bootstrap([1.0, 0.0], [1.0])


def test_scores_outside_unit_interval_are_refused():
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        paired_bootstrap([1.0, 50.0], [1.0, 0.0])


def test_wilson_interval_half_of_hundred():
    # centre 0.5; half width 1.96 * sqrt(0.0025 + 3.8415/40000) / 1.038415 = 0.09617
    low, high = wilson_interval(50.0, 100)
    assert (low, high) == (pytest.approx(40.383, abs=1e-3), pytest.approx(59.617, abs=1e-3))
