"""compare: hand-computed deltas and p-values, categories, flips, protocol refusal."""

from __future__ import annotations

import json

import pytest

from lb_helpers import SOPHIA_GENERATION
from sophia_eval.board.compare import ProtocolMismatch, compare_paths, compare_runs, comparison_to_dict
from sophia_eval.runs.reading import RunReadError, read_run

CATS = {str(i): {"subject": "algebra" if i < 6 else "geometry"} for i in range(12)}


@pytest.fixture
def pair(make_run):
    # Items 0-4: A right, B wrong; item 5: A wrong, B right; 6-11: both right on 6-8, both wrong on 9-11.
    a = {str(i): [i < 5 or 6 <= i < 9] for i in range(12)}
    b = {str(i): [i == 5 or 6 <= i < 9] for i in range(12)}
    return (make_run("a", model="base", outcomes=a, categories=CATS),
            make_run("b", model="ckpt", outcomes=b, categories=CATS))


def test_binary_runs_use_exact_mcnemar(pair):
    result = compare_runs(read_run(pair[0]), read_run(pair[1]))
    # Discordant 5 vs 1: p = 2 * (C(6,0) + C(6,1)) / 64 = 14 / 64
    assert (result.test.method, result.test.b_only, result.test.c_only) == ("mcnemar_exact", 5, 1)
    assert result.test.p_value == pytest.approx(14 / 64)


def test_delta_is_b_minus_a_in_points(pair):
    result = compare_runs(read_run(pair[0]), read_run(pair[1]))
    assert result.delta_points == pytest.approx(100 * (4 / 12 - 8 / 12))


def test_flipped_items_are_listed_with_answers(pair):
    flips = compare_runs(read_run(pair[0]), read_run(pair[1])).flips
    assert [(f.item_id, f.direction) for f in flips] == [("0", "broken"), ("1", "broken"), ("2", "broken"),
                                                        ("3", "broken"), ("4", "broken"), ("5", "fixed")]
    assert (flips[5].a_answer, flips[5].b_answer, flips[5].gold) == ("ans-5-0", "ans-5-1", "gold-5")


def test_per_category_deltas(pair):
    cats = {c.value: c for c in compare_runs(read_run(pair[0]), read_run(pair[1])).categories}
    # algebra (0-5): A 5/6, B 1/6; geometry (6-11): A 3/6, B 3/6
    assert (cats["algebra"].a, cats["algebra"].b, cats["algebra"].delta) == pytest.approx((500 / 6, 100 / 6, -400 / 6))
    assert cats["geometry"].delta == 0.0 and cats["geometry"].p_value == 1.0


def test_several_samples_per_item_use_the_paired_bootstrap(make_run):
    gen = dict(SOPHIA_GENERATION, n=2)
    a = make_run("a", model="a", generation=gen, outcomes={str(i): [True, i % 2 == 0] for i in range(8)})
    b = make_run("b", model="b", generation=gen, outcomes={str(i): [True, True] for i in range(8)})
    result = compare_runs(read_run(a), read_run(b), n_resamples=500)
    assert (result.test.method, result.delta_points) == ("paired_bootstrap", pytest.approx(25.0))


def test_unscored_samples_do_not_count_as_wrong(make_run):
    a = make_run("a", model="a", outcomes={"1": [True], "2": [None], "3": [False]})
    b = make_run("b", model="b", outcomes={"1": [True], "2": [False], "3": [False]})
    result = compare_runs(read_run(a), read_run(b))
    assert (result.test.n_items, result.only_b, result.delta_points) == (2, 1, 0.0)


def test_different_protocols_are_refused_with_the_differences(make_run):
    a = make_run("a", model="a", outcomes={"1": [True]})
    b = make_run("b", model="b", preset="greedy", generation=dict(SOPHIA_GENERATION, temperature=0.0), outcomes={"1": [True]})
    with pytest.raises(ProtocolMismatch, match=r"generation.temperature: 1.0 vs 0.0(.|\n)*--force"):
        compare_runs(read_run(a), read_run(b))


def test_forced_comparison_carries_the_differences(make_run):
    a = make_run("a", model="a", outcomes={"1": [True]})
    b = make_run("b", model="b", generation=dict(SOPHIA_GENERATION, max_new_tokens=64), outcomes={"1": [False]})
    result = compare_runs(read_run(a), read_run(b), force=True)
    assert result.differences == ("generation.max_new_tokens: 16384 vs 64",)


def test_verifier_version_difference_needs_force(make_run):
    a = make_run("a", model="a", outcomes={"1": [True]})
    b = make_run("b", model="b", outcomes={"1": [True]}, verifier_version="2")
    with pytest.raises(ProtocolMismatch, match="verifier_version: '1' vs '2'"):
        compare_runs(read_run(a), read_run(b))


def test_directories_of_runs_are_paired_by_benchmark(make_run, tmp_path):
    for side, n in (("base", 1), ("ckpt", 2)):
        make_run(f"{side}/mv", model=side, outcomes={str(i): [i < n] for i in range(4)})
        make_run(f"{side}/m500", model=side, benchmark="math500", outcomes={str(i): [i < n] for i in range(4)})
    make_run("ckpt/aime", model="ckpt", benchmark="aime24", outcomes={"1": [True]})
    c = compare_paths(str(tmp_path / "runs" / "base"), str(tmp_path / "runs" / "ckpt"), n_resamples=200)
    assert sorted((b.benchmark, b.delta_points) for b in c.benchmarks) == [("math500", 25.0), ("mathvision", 25.0)]
    assert c.unmatched == ("aime24:test",) and c.average == (25.0, 50.0, 25.0)
    json.dumps(comparison_to_dict(c))  # JSON-ready


def test_two_runs_of_one_benchmark_on_a_side_are_ambiguous(make_run, tmp_path):
    make_run("base/x", model="a", outcomes={"1": [True]})
    make_run("base/y", model="a", outcomes={"1": [True]})
    make_run("ckpt/x", model="b", outcomes={"1": [True]})
    with pytest.raises(RunReadError, match="two runs of mathvision:test"):
        compare_paths(str(tmp_path / "runs" / "base"), str(tmp_path / "runs" / "ckpt"))


def test_different_benchmarks_are_refused(make_run):
    a = make_run("a", model="a", outcomes={"1": [True]})
    b = make_run("b", model="b", benchmark="math500", outcomes={"1": [True]})
    with pytest.raises(ProtocolMismatch, match="same benchmark and split only"):
        compare_runs(read_run(a), read_run(b))


def test_imports_from_different_prediction_files_compare_without_force(make_run):
    # `sophia-eval score --import-jsonl` records where the predictions came from (config.source:
    # file path and hash). Two checkpoints' predictions always come from two files; that is
    # provenance, not protocol, so it must neither block the comparison nor flag it.
    a = make_run("a", model="a", outcomes={"1": [True], "2": [False]})
    b = make_run("b", model="b", outcomes={"1": [True], "2": [True]})
    for run, name in ((a, "a"), (b, "b")):
        meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
        meta["config"]["source"] = {"path": f"/preds/{name}.jsonl", "sha256_16": name * 16}
        (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    result = compare_runs(read_run(a), read_run(b))
    assert result.differences == () and result.delta_points == pytest.approx(50.0)
    forced = compare_runs(read_run(a), read_run(b), force=True)
    assert forced.differences == ()
