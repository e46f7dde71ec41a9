"""Metrics against values computed by hand."""

import math

import pytest

from sophia_eval.scoring import intervals as I
from sophia_eval.scoring import metrics as M


def rec(item, idx, status, extracted=None, finish="stop", **cats):
    return {
        "item_id": item, "sample_index": idx, "status": status,
        "correct": status == "correct" if status in M.SCORED_STATUSES else None,
        "extracted": extracted, "finish_reason": finish, "categories": cats,
    }


def test_pass_at_k_matches_binomial_formula():
    # n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert M.pass_at_k(5, 2, 2) == pytest.approx(0.7)


def test_pass_at_1_is_fraction_correct():
    assert M.pass_at_k(8, 3, 1) == pytest.approx(3 / 8)


def test_pass_at_k_is_one_when_too_few_wrong():
    assert M.pass_at_k(4, 3, 2) == 1.0


def test_pass_at_k_rejects_k_above_n():
    with pytest.raises(ValueError, match="1 <= k <= n"):
        M.pass_at_k(2, 1, 4)


def test_wilson_interval_hand_value():
    # 5 of 10 at z=1.96: centre 0.5, half-width = 1.96*sqrt(.025+.0096)/1.384
    low, high = I.wilson_interval(5, 10)
    z = I.Z_95
    half = z * math.sqrt(0.25 / 10 + z * z / 400) / (1 + z * z / 10)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half))


def test_wilson_interval_at_zero_successes_starts_at_zero():
    assert I.wilson_interval(0, 20)[0] == 0.0


def test_bootstrap_interval_is_deterministic_and_brackets_mean():
    vals = [0.0, 0.25, 0.5, 1.0, 0.75, 0.5]
    a = I.bootstrap_interval(vals, seed=3)
    assert a == I.bootstrap_interval(vals, seed=3) and a[0] <= sum(vals) / 6 <= a[1]


def test_errors_are_not_scored_as_wrong():
    records = [rec("a", 0, "correct"), rec("b", 0, "error", finish="error"), rec("c", 0, "timeout")]
    s = M.summarize(records)
    assert s["metrics"]["pass@1"]["value"] == 100.0 and s["metrics"]["pass@1"]["n_items"] == 1


def test_no_answer_counts_as_wrong():
    s = M.summarize([rec("a", 0, "correct"), rec("b", 0, "no_answer")])
    assert s["metrics"]["pass@1"]["value"] == 50.0


def test_status_counts_and_unscored_items():
    s = M.summarize([rec("a", 0, "correct"), rec("b", 0, "error"), rec("c", 0, "judge_error")])
    assert (s["status_counts"], s["n_unscored_items"], s["judge_failures"]) == (
        {"correct": 1, "error": 1, "judge_error": 1}, 2, 1)


def test_truncation_rate_ignores_errors():
    records = [rec("a", 0, "incorrect", finish="length"), rec("b", 0, "correct"),
               rec("c", 0, "error", finish="error")]
    assert M.truncation_rate(records) == 0.5


def test_pass_at_k_summary_over_n_samples():
    # item a: 2 of 4 correct; item b: 0 of 4. pass@2(a) = 1 - C(2,2)/C(4,2) = 5/6
    recs = [rec("a", i, "correct" if i < 2 else "incorrect") for i in range(4)]
    recs += [rec("b", i, "incorrect") for i in range(4)]
    m = M.summarize(recs)["metrics"]
    assert (m["pass@1"]["value"], m["pass@2"]["value"], m["pass@4"]["value"]) == pytest.approx(
        (25.0, 100 * (5 / 6) / 2, 50.0))


def test_avg_at_n_equals_mean_fraction_correct():
    recs = [rec("a", i, "correct" if i == 0 else "incorrect") for i in range(4)]
    recs += [rec("b", i, "correct") for i in range(4)]
    assert M.summarize(recs)["metrics"]["avg@4"]["value"] == pytest.approx(62.5)


def test_majority_vote_picks_most_frequent_answer():
    item = M.ItemResult("a", (False, True, True, False), ("3", "4", "4", "3 "), {})
    # "3" and "3 " normalise to the same answer: 2 votes each; tie goes to first seen ("3") -> wrong
    assert M.majority_correct(item) is False


def test_majority_vote_correct_when_winner_is_correct():
    item = M.ItemResult("a", (False, True, True), ("3", "4", "4"), {})
    assert M.majority_correct(item) is True


def test_majority_vote_ignores_unscored_samples():
    item = M.ItemResult("a", (None, None, True), ("9", "9", "4"), {})
    assert M.majority_correct(item) is True


def test_category_breakdown_per_value():
    recs = [rec("a", 0, "correct", level="1"), rec("b", 0, "incorrect", level="1"),
            rec("c", 0, "correct", level="2")]
    cats = M.summarize(recs, breakdown=["level"])["categories"]
    assert cats == {"level": {"1": {"value": 50.0, "n_items": 2}, "2": {"value": 100.0, "n_items": 1}}}


def test_dynamath_worst_case_needs_every_variant():
    # seed 1: 10 of 10 right; seed 2: 9 of 10 right -> average 19/20, worst case 1/2
    recs = [rec(f"s1v{v}", 0, "correct", seed="1") for v in range(10)]
    recs += [rec(f"s2v{v}", 0, "correct" if v else "incorrect", seed="2") for v in range(10)]
    s = M.summarize(recs, metric="dynamath")
    assert (s["metrics"]["pass@1"]["value"], s["metrics"]["worst_case"]["value"]) == (95.0, 50.0)


def test_dynamath_without_seed_field_raises_naming_item():
    with pytest.raises(ValueError, match="item x"):
        M.summarize([rec("x", 0, "correct")], metric="dynamath")


def _wemath(pid, steps_ok, multi_ok):
    n = len(steps_ok)
    out = [rec(f"{pid}_{n}steps_{i + 1}", 0, "correct" if ok else "incorrect", problem_id=pid,
               step=f"{n}steps_{i + 1}") for i, ok in enumerate(steps_ok)]
    out.append(rec(f"{pid}_{n}steps_multi", 0, "correct" if multi_ok else "incorrect", problem_id=pid,
                   step=f"{n}steps_multi"))
    return out


def test_wemath_four_dimensions_by_hand():
    recs = (_wemath("p1", [True, True], True)      # CM strict + loose
            + _wemath("p2", [True, False], True)   # RM strict, CM loose
            + _wemath("p3", [False, False], True)  # RM strict + loose
            + _wemath("p4", [True, True, True], False)  # IG
            + _wemath("p5", [False, True], False))  # IK
    w = M.summarize(recs, metric="wemath")["wemath"]
    assert (w["IK"], w["IG"], w["CM_strict"], w["CM_loose"]) == (20.0, 20.0, 20.0, 40.0)
    # RM rates: strict 2/(1+2), loose 1/(2+1); score strict (5 - .5 - 2 - 1)/5, loose (5-.5-1-1)/5
    assert (w["RM_strict"], w["RM_loose"], w["score_strict"], w["score_loose"]) == pytest.approx(
        (200 / 3, 100 / 3, 30.0, 50.0), abs=1e-3)


def test_wemath_one_step_problems_are_ignored():
    recs = _wemath("p1", [True, True], True) + [rec("solo", 0, "incorrect", problem_id="p9",
                                                        step="1step")]
    assert M.summarize(recs, metric="wemath")["wemath"]["n_problems"] == 1


def test_summary_follows_contract_keys():
    s = M.summarize([rec("a", 0, "correct")])
    assert {"n_items", "n_samples", "primary", "metrics", "categories", "status_counts",
            "truncation_rate", "judge_failures"} <= set(s)


def test_wilson_ci_used_for_single_sample_runs():
    m = M.summarize([rec("a", 0, "correct"), rec("b", 0, "incorrect")])["metrics"]["pass@1"]
    low, high = I.wilson_interval(1, 2)
    assert (m["ci_method"], m["ci_low"], m["ci_high"]) == ("wilson", round(100 * low, 4),
                                                           round(100 * high, 4))


# -- audit against the official definitions (hand-computed values) ------------------------------


def _item(item_id, outcomes, answers=None, **cats):
    return M.ItemResult(item_id, tuple(outcomes), tuple(answers or [None] * len(outcomes)), cats)


def test_pass_at_k_product_form_equals_binomial_ratio():
    # n=10, c=3, k=4: 1 - C(7,4)/C(10,4) = 1 - 35/210 = 5/6
    assert M.pass_at_k(10, 3, 4) == pytest.approx(1 - math.comb(7, 4) / math.comb(10, 4))


def test_pass_at_k_zero_correct_is_zero():
    assert M.pass_at_k(6, 0, 3) == 0.0


def test_pass_at_k_counts_only_scored_samples():
    # a: correct, error, incorrect, correct -> n=3 scored, c=2: pass@2 = 1 - C(1,2)/C(3,2) = 1
    # b: 4 incorrect -> 0.  pass@2 = (1 + 0) / 2
    recs = [rec("a", 0, "correct"), rec("a", 1, "error", finish="error"), rec("a", 2, "incorrect"),
            rec("a", 3, "correct")] + [rec("b", i, "incorrect") for i in range(4)]
    m = M.summarize(recs)["metrics"]["pass@2"]
    assert (m["value"], m["n_items"]) == (50.0, 2)


def test_pass_at_k_leaves_out_items_with_fewer_than_k_scored_samples():
    # a has only 3 scored samples: pass@4 cannot be estimated for it; b (0 of 4) is the only item
    recs = [rec("a", 0, "correct"), rec("a", 1, "error", finish="error"), rec("a", 2, "incorrect"),
            rec("a", 3, "correct")] + [rec("b", i, "incorrect") for i in range(4)]
    m = M.summarize(recs)["metrics"]["pass@4"]
    assert (m["value"], m["n_items"]) == (0.0, 1)


def test_avg_at_n_is_over_scored_samples_per_item_then_items():
    # a: 2 of 3 scored right (one error); b: 4 of 4 -> (2/3 + 1) / 2 = 5/6
    recs = [rec("a", 0, "correct"), rec("a", 1, "error", finish="error"), rec("a", 2, "incorrect"),
            rec("a", 3, "correct")] + [rec("b", i, "correct") for i in range(4)]
    assert M.summarize(recs)["metrics"]["avg@4"]["value"] == pytest.approx(100 * 5 / 6, abs=1e-4)


def test_majority_vote_samples_without_answer_do_not_vote():
    # two no_answer samples, one answered "4" (correct): "4" is the only vote -> correct
    assert M.majority_correct(_item("a", (False, False, True), (None, None, "4"))) is True


def test_majority_vote_with_no_answer_at_all_is_wrong():
    assert M.majority_correct(_item("a", (False, False), (None, None))) is False


def test_majority_vote_of_only_unscored_samples_is_not_scored():
    assert M.majority_correct(_item("a", (None, None), ("4", "4"))) is None


def test_majority_at_k_uses_first_k_scored_samples():
    # scored samples in order: "3"(wrong), "3"(wrong), "4", "4", "4"; maj@2 -> "3" -> wrong
    item = _item("a", (None, False, False, True, True, True), ("4", "3", "3", "4", "4", "4"))
    assert (M.majority_correct(item, 2), M.majority_correct(item, 5)) == (False, True)


def test_maj_at_n_leaves_out_unscored_items():
    recs = [rec("a", i, "correct", extracted="4") for i in range(2)]
    recs += [rec("b", i, "error", finish="error") for i in range(2)]
    m = M.summarize(recs)["metrics"]["maj@2"]
    assert (m["value"], m["n_items"]) == (100.0, 1)


def test_ci_is_bootstrap_when_several_samples_per_item_even_for_binary_values():
    # maj@2 per-item values are 0/1, but the run has 2 samples per item: bootstrap (README: Wilson n=1)
    recs = [rec("a", i, "correct", extracted="4") for i in range(2)]
    recs += [rec("b", i, "incorrect", extracted="5") for i in range(2)]
    m = M.summarize(recs)["metrics"]
    assert (m["maj@2"]["ci_method"], m["pass@2"]["ci_method"], m["avg@2"]["ci_method"]) == (
        "bootstrap", "bootstrap", "bootstrap")


def test_bootstrap_resamples_items_not_samples():
    # both items 1 of 2 right: every item resample has mean 0.5, so the interval is [50, 50];
    # resampling samples would give a wide interval
    recs = [rec("a", 0, "correct"), rec("a", 1, "incorrect"), rec("b", 0, "incorrect"), rec("b", 1, "correct")]
    m = M.summarize(recs)["metrics"]["avg@2"]
    assert (m["ci_low"], m["ci_high"], m["n_items"]) == (50.0, 50.0, 2)


def test_bootstrap_is_percentile_interval():
    # 3 items [0, 0, 1]: resample means 0, 1/3, 2/3, 1 with P = 8/27, 12/27, 6/27, 1/27, so the
    # 2.5% quantile is 0 and the 97.5% quantile is 1 (P(mean = 1) = 3.7% > 2.5%); a normal
    # interval would be 1/3 +- 0.53
    assert I.bootstrap_interval([0.0, 0.0, 1.0]) == (0.0, 1.0)


def test_bootstrap_default_seed_is_fixed():
    vals = [0.0, 0.25, 0.5, 1.0, 0.75, 0.5, 0.125]
    assert I.bootstrap_interval(vals) == I.bootstrap_interval(vals, seed=0)


def test_category_breakdown_leaves_unscored_items_out_of_denominator():
    recs = [rec("a", 0, "correct", level="1"), rec("b", 0, "error", finish="error", level="1"),
            rec("c", 0, "timeout", level="2")]
    cats = M.summarize(recs, breakdown=["level"])["categories"]["level"]
    assert cats == {"1": {"value": 100.0, "n_items": 1}, "2": {"value": None, "n_items": 0}}


# DynaMath: seeds of 10 variants (DYNAMATH_VARIANTS)


def _dyna(seed, statuses):
    return [rec(f"{seed}_{v + 1}", 0, st, seed=seed, variant=str(v + 1)) for v, st in enumerate(statuses)]


def _dyna_case():
    return (_dyna("s1", ["correct"] * 10)                                   # all right
            + _dyna("s2", ["correct"] * 9 + ["incorrect"])                  # one wrong
            + _dyna("s3", ["correct"] * 9)                                  # a variant missing
            + _dyna("s4", ["correct"] * 9 + ["error"])                      # a variant unscored
            + _dyna("s5", ["correct"] * 8 + ["incorrect", "error"]))        # wrong + unscored


def test_dynamath_average_accuracy_over_scored_variants():
    # scored variants: 10 + 10 + 9 + 9 + 9 = 47, correct 10 + 9 + 9 + 9 + 8 = 45
    m = M.summarize(_dyna_case(), metric="dynamath")["metrics"]["pass@1"]
    assert (m["value"], m["n_items"]) == (pytest.approx(100 * 45 / 47, abs=1e-4), 47)


def test_dynamath_worst_case_counts_only_complete_seeds():
    # complete seeds: s1 (all right) and s2 (one wrong) -> 1/2; s3, s4, s5 left out
    w = M.summarize(_dyna_case(), metric="dynamath")["metrics"]["worst_case"]
    assert (w["value"], w["n_items"], w["n_seeds"], w["n_seeds_incomplete"]) == (50.0, 2, 2, 3)


def test_dynamath_limit_run_with_one_variant_per_seed_has_no_worst_case():
    # --limit takes variant 1 of the first seeds: worst case cannot be measured (not = accuracy)
    recs = [r for s in ("s1", "s2", "s3") for r in _dyna(s, ["correct"])]
    w = M.summarize(recs, metric="dynamath")["metrics"]["worst_case"]
    assert (w["value"], w["n_items"], w["n_seeds_incomplete"]) == (None, 0, 3)


# WeMath: 3 two-step and 2 three-step problems, one-step problem ignored (hand-computed)
#   p1 [T, T]    multi T -> CM strict, CM loose
#   p2 [T, T]    multi F -> IG
#   p3 [F, T]    multi T -> RM strict, CM loose
#   q1 [T, T, T] multi F -> IG
#   q2 [F, F, F] multi T -> RM strict, RM loose
# N = 5: IK 0, IG 2, CM strict 1, CM loose 2, RM strict 2, RM loose 1
# IK = 0%, IG = 40%, CM strict 20%, CM loose 40%; RM strict 2/(1+2), RM loose 1/(2+1)
# score strict (5 - 0.5*2 - 2 - 0)/5 = 40%, loose (5 - 0.5*2 - 1 - 0)/5 = 60%


def _wemath_case():
    return (_wemath("p1", [True, True], True) + _wemath("p2", [True, True], False)
            + _wemath("p3", [False, True], True) + _wemath("q1", [True, True, True], False)
            + _wemath("q2", [False, False, False], True)
            + [rec("solo", 0, "incorrect", problem_id="s", step="1step")])


def test_wemath_hand_case_rates():
    w = M.summarize(_wemath_case(), metric="wemath")["wemath"]
    assert (w["IK"], w["IG"], w["CM_strict"], w["CM_loose"], w["n_problems"]) == (0.0, 40.0, 20.0, 40.0, 5)


def test_wemath_hand_case_rote_memorisation_rates():
    w = M.summarize(_wemath_case(), metric="wemath")["wemath"]
    assert (w["RM_strict"], w["RM_loose"]) == pytest.approx((200 / 3, 100 / 3), abs=1e-3)


def test_wemath_hand_case_scores():
    m = M.summarize(_wemath_case(), metric="wemath")["metrics"]
    assert (m["wemath_strict"]["value"], m["wemath_loose"]["value"], m["wemath_strict"]["n_items"]) == (
        40.0, 60.0, 5)


def test_wemath_three_step_problem_missing_a_step_is_incomplete():
    # a 3-step problem whose third sub-problem is not in the run (--limit): not a 2-step problem
    recs = [r for r in _wemath("q1", [True, True, True], True) if r["categories"]["step"] != "3steps_3"]
    w = M.summarize(recs, metric="wemath")["wemath"]
    assert (w["n_problems"], w["n_incomplete"], w["CM_strict"]) == (0, 1, None)


def test_wemath_problem_missing_its_composite_is_incomplete():
    recs = [r for r in _wemath("p1", [True, True], True) if not r["categories"]["step"].endswith("multi")]
    w = M.summarize(recs, metric="wemath")["wemath"]
    assert (w["n_problems"], w["n_incomplete"]) == (0, 1)


def test_wemath_unscored_sub_problem_is_incomplete_not_wrong():
    recs = _wemath("p1", [True, True], True)
    recs[0] = {**recs[0], "status": "error", "correct": None}
    recs += _wemath("p2", [True, True], True)
    w = M.summarize(recs, metric="wemath")["wemath"]
    assert (w["n_problems"], w["n_incomplete"], w["CM_strict"], w["IK"]) == (1, 1, 100.0, 0.0)


def test_wemath_same_id_for_a_two_and_a_three_step_problem_are_two_problems():
    # the official script merges 2-step and 3-step problems separately by ID
    recs = _wemath("7", [True, True], True) + _wemath("7", [False, False, False], False)
    w = M.summarize(recs, metric="wemath")["wemath"]
    assert (w["n_problems"], w["CM_strict"], w["IK"]) == (2, 50.0, 50.0)


def test_wemath_unknown_step_key_raises_naming_item():
    with pytest.raises(ValueError, match="item x.*'step two'"):
        M.summarize([rec("x", 0, "correct", problem_id="1", step="step two")], metric="wemath")
