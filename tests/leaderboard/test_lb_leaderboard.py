"""Leaderboard tables: protocols never mixed silently, flags, SOPHIA-style averages, outputs."""

from __future__ import annotations

import csv
import io

import pytest

from lb_helpers import VOCAB, reference_rows
from sophia_eval.board.baselines import load_baselines, load_protocols, map_reference_row
from sophia_eval.board.leaderboard import RUN_ONLY_PREFIX, average_of, build_leaderboard
from sophia_eval.board.output import chart_deltas, to_csv, to_markdown, write_outputs
from sophia_eval.runs.reading import load_runs

GREEDY = {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 512, "seed": 0}


@pytest.fixture(scope="module")
def published():
    return load_baselines(vocab=VOCAB), load_protocols()


def _board(published, run_dirs=(), pairs=()):
    baselines, protocols = published
    runs, skipped = load_runs(list(run_dirs)) if run_dirs else ([], [])
    return build_leaderboard(runs, baselines, protocols, VOCAB, skipped=skipped, pairs=pairs)


def _run_rows(board, model):
    return {(t.protocol, t.column): r for t in board.tables for r in t.rows if r.entry.kind == "run" and r.entry.model == model}


def _outcomes(n_correct, n):
    return {str(i): [i < n_correct] for i in range(n)}


def test_every_published_number_appears_under_its_own_protocol(published):
    board = _board(published)
    rows = list(csv.DictReader(io.StringIO(to_csv(board))))
    shown = {(r["protocol"], r["model"], r["benchmark"], r["split"], r["metric"], r["value_text"]) for r in rows if r["kind"] == "baseline"}
    expected = set()
    for i, row in enumerate(reference_rows(), start=2):
        m = map_reference_row(row, f"ref:{i}")
        expected.add((m["protocol"], m["model"], m["benchmark"], m["split"], m["metric"], row["value"]))
    assert expected - shown == set() and len(rows) == len(expected)


def test_sophia_average_matches_the_paper_headline(published):
    # SOPHIA Tables 1-2: InternVL3.0-38B + SOPHIA averages 55.51 over 8 benchmarks, +8.50 over its base.
    sophia = next(o for o in _board(published).overviews if o.protocol == "sophia")
    assert round(average_of(sophia, "InternVL3.0-38B + SOPHIA"), 2) == 55.51
    assert round(average_of(sophia, "InternVL3.0-38B + SOPHIA") - average_of(sophia, "InternVL3.0-38B"), 2) == 8.50


def test_base_chart_pairs_published_variants_with_their_base(published):
    chart = next(c for c in _board(published).charts if c.protocol == "sophia" and c.base == "InternVL3.0-38B")
    deltas = {name: avg for name, _, avg in chart_deltas(chart)}
    assert round(deltas["InternVL3.0-38B + SOPHIA"], 2) == 8.50


def test_run_with_matching_split_and_metric_joins_each_published_table(published, make_run):
    board = _board(published, [make_run("r", model="mine", outcomes=_outcomes(6, 10))])
    assert set(_run_rows(board, "mine")) == {
        ("sophia", ("mathvision", "test", "pass@1")),
        ("internvl3.5_report", ("mathvision", "test", "pass@1")),
    }


def test_run_on_another_split_is_never_mixed_with_published_numbers(published, make_run):
    board = _board(published, [make_run("r", model="mine", split="testmini", outcomes=_outcomes(6, 10))])
    table = next(t for t in board.tables if any(r.entry.model == "mine" for r in t.rows))
    assert (table.protocol, [r.entry.kind for r in table.rows]) == (RUN_ONLY_PREFIX + "sophia", ["run"])
    assert "other split/metric" in table.notes[0]


def test_dynamath_worst_case_run_sits_only_with_worst_case_numbers(published, make_run):
    outcomes = {f"{s}-{v}": [s == 0 or v > 0] for s in range(4) for v in range(10)}
    cats = {f"{s}-{v}": {"seed": str(s)} for s in range(4) for v in range(10)}
    run = make_run("d", model="mine", benchmark="dynamath", metric="dynamath", outcomes=outcomes, categories=cats)
    placed = set(_run_rows(_board(published, [run]), "mine"))
    assert placed == {("sophia", ("dynamath", "test", "pass@1")), ("internvl3.5_report", ("dynamath", "test", "worst_case"))}


def test_greedy_run_is_flagged_for_each_decoding_difference(published, make_run):
    board = _board(published, [make_run("g", model="mine", preset="greedy", generation=GREEDY, outcomes=_outcomes(5, 10))])
    flags = _run_rows(board, "mine")[("sophia", ("mathvision", "test", "pass@1"))].flags
    assert [f.split(" ")[0] for f in flags] == ["preset", "temperature", "top_p", "max_new_tokens", "extraction", "subset:"]


def test_sophia_model_run_with_the_published_judge_has_no_protocol_flag(published, make_run):
    outcomes = {str(i): [i < 450] for i in range(900)}
    run = make_run("s", model="mine", benchmark="mmmu", split="validation", preset="sophia_model",
                   judge={"model": "Qwen2.5-72B-Instruct"}, outcomes=outcomes)
    assert _run_rows(_board(published, [run]), "mine")[("sophia", ("mmmu", "validation", "pass@1"))].flags == ()


def test_run_without_llm_judge_is_flagged_where_the_protocol_used_one(published, make_run):
    run = make_run("s", model="mine", benchmark="mmmu", split="validation", outcomes=_outcomes(3, 10))
    flags = _run_rows(_board(published, [run]), "mine")[("sophia", ("mmmu", "validation", "pass@1"))].flags
    assert "judge none (published Qwen2.5-72B-Instruct)" in flags


def test_incomplete_run_is_skipped_with_its_reason(published, make_run):
    board = _board(published, [make_run("x", model="mine", outcomes=_outcomes(1, 2), complete=False)])
    assert len(board.skipped) == 1 and "status 'running'" in board.skipped[0][1]


def test_ties_share_a_rank(published, make_run):
    # 4 of 10 = 40.00; with 1 of 2 runs tying on 50.00 the ranks are competition ranks.
    dirs = [make_run("a", model="a", benchmark="math500", outcomes=_outcomes(5, 10)),
            make_run("b", model="b", benchmark="math500", outcomes=_outcomes(1, 2)),
            make_run("c", model="c", benchmark="math500", outcomes=_outcomes(4, 10))]
    table = next(t for t in _board(published, dirs).tables if t.benchmark == "math500")
    assert [(r.rank, r.entry.model) for r in table.rows] == [(1, "a"), (1, "b"), (3, "c")]


def test_published_accuracy_gets_an_approximate_interval_over_the_split(published):
    board = _board(published)
    row = next(r for t in board.tables for r in t.rows if t.protocol == "sophia" and t.benchmark == "mathvision"
               and r.entry.model == "InternVL3.0-38B + SOPHIA")
    assert row.entry.n_items == 3040 and row.entry.ci_low < 49.08 < row.entry.ci_high
    assert row.entry.ci_method.startswith("approx. Wilson")


def test_overview_marks_a_run_averaged_over_fewer_benchmarks(published, make_run):
    board = _board(published, [make_run("r", model="mine", outcomes=_outcomes(6, 10))])
    sophia = next(o for o in board.overviews if o.protocol == "sophia")
    row = next(r for r in sophia.rows if r.model == "mine")
    assert (row.kind, row.n_columns, row.average, row.flagged) == ("run", 1, 60.0, True)
    assert "60.00*" in to_markdown(board)


def test_requested_pair_of_runs_gets_a_chart(published, make_run):
    dirs = [make_run("a", model="base", outcomes=_outcomes(3, 10)), make_run("b", model="ckpt", outcomes=_outcomes(6, 10))]
    board = _board(published, dirs, pairs=[("base", "ckpt")])
    chart = next(c for c in board.charts if c.base == "base" and c.protocol == "sophia")
    assert chart_deltas(chart) == [("ckpt", {("mathvision", "test", "pass@1"): pytest.approx(30.0)}, pytest.approx(30.0))]


def test_outputs_are_written(published, make_run, tmp_path):
    board = _board(published, [make_run("r", model="mine", outcomes=_outcomes(6, 10))])
    paths = write_outputs(board, tmp_path / "out")
    assert {p.name for p in paths.values()} == {"leaderboard.md", "leaderboard.csv", "leaderboard.html"}
    assert all(p.stat().st_size > 1000 for p in paths.values())


def test_items_left_unscored_by_errors_are_flagged(published, make_run):
    run = make_run("e", model="mine", benchmark="math500", outcomes={"1": [True], "2": [None], "3": [False]})
    table = next(t for t in _board(published, [run]).tables if t.benchmark == "math500")
    assert "1 item(s) not scored (backend errors, timeouts)" in table.rows[0].flags


def test_runs_sharing_a_label_are_told_apart_by_directory(published, make_run):
    from sophia_eval.board.labels import row_labels

    dirs = [make_run("first", model="m", benchmark="math500", outcomes=_outcomes(1, 4)),
            make_run("second", model="m", benchmark="math500", outcomes=_outcomes(2, 4))]
    table = next(t for t in _board(published, dirs).tables if t.benchmark == "math500")
    assert row_labels(table.rows) == ["m (run, sophia) second", "m (run, sophia) first"]


def test_runs_only_table_flags_settings_that_differ_between_runs(published, make_run):
    dirs = [make_run("a", model="a", benchmark="math500", preset="greedy", generation=GREEDY, outcomes=_outcomes(1, 4)),
            make_run("b", model="b", benchmark="math500", preset="greedy", generation=dict(GREEDY, max_new_tokens=64),
                     outcomes=_outcomes(2, 4))]
    table = next(t for t in _board(published, dirs).tables if t.benchmark == "math500")
    flags = {r.entry.model: r.flags[0] for r in table.rows}
    assert flags == {"a": "max_new_tokens 512 (differs between runs here)", "b": "max_new_tokens 64 (differs between runs here)"}


def test_omitted_hint_is_flagged_against_the_sophia_protocol(published, make_run, tmp_path):
    import json

    run = make_run("h", model="mine", outcomes=_outcomes(1, 4))
    meta = json.loads((run / "run.json").read_text())
    meta["config"]["use_hint"] = False
    (run / "run.json").write_text(json.dumps(meta))
    flags = _run_rows(_board(published, [run]), "mine")[("sophia", ("mathvision", "test", "pass@1"))].flags
    assert "benchmark hint omitted (published: prepended)" in flags


def test_markdown_has_one_section_per_protocol_in_order(published, make_run):
    board = _board(published, [make_run("r", model="mine", benchmark="math500", outcomes=_outcomes(1, 4))])
    sections = [line for line in to_markdown(board).splitlines() if line.startswith("## ")]
    assert sections == [
        "## SOPHIA paper protocol (arXiv 2507.16814v2, Tables 1-2)",
        "## InternVL3.5 report reasoning suite (arXiv 2508.18265v2, Table 3)",
        "## Runs with preset 'sophia' (no published counterpart)",
    ]


def test_a_local_run_named_like_a_published_base_keeps_the_published_chart(published, make_run):
    # Reproducing the base model locally (same display name) must not hide the published
    # base-vs-variants chart, nor put the run's numbers in place of the published base's.
    board = _board(published, [make_run("r", model="InternVL3.0-38B", outcomes=_outcomes(6, 10))])
    chart = next(c for c in board.charts if c.protocol == "sophia" and c.base == "InternVL3.0-38B")
    deltas = {name: avg for name, _, avg in chart_deltas(chart)}
    assert round(deltas["InternVL3.0-38B + SOPHIA"], 2) == 8.50
    assert chart.values[("InternVL3.0-38B", ("mathvision", "test", "pass@1"))] == pytest.approx(32.93)


def test_a_pair_of_runs_charts_the_runs_even_when_the_base_name_is_published(published, make_run):
    runs = [make_run("base", model="InternVL3.0-38B", outcomes=_outcomes(3, 10)),
            make_run("ckpt", model="my-ckpt", outcomes=_outcomes(6, 10))]
    board = _board(published, runs, pairs=[("InternVL3.0-38B", "my-ckpt")])
    col = ("mathvision", "test", "pass@1")
    mine = [c for c in board.charts if c.protocol == "sophia" and "my-ckpt" in c.variants]
    assert len(mine) == 1 and mine[0].variants == ("my-ckpt",)
    assert (mine[0].values[("InternVL3.0-38B", col)], mine[0].values[("my-ckpt", col)]) == pytest.approx((30.0, 60.0))
    published_chart = [c for c in board.charts if c.protocol == "sophia" and "InternVL3.0-38B + SOPHIA" in c.variants]
    assert len(published_chart) == 1 and published_chart[0].values[("InternVL3.0-38B", col)] == pytest.approx(32.93)


def test_a_chart_on_a_run_of_the_base_says_so_in_its_title(published, make_run):
    # Beside the published 'InternVL3.0-38B vs trained variants', a pair on a local run of that
    # base must not carry the same title: its base numbers are the run's, not the paper's.
    runs = [make_run("base", model="InternVL3.0-38B", outcomes=_outcomes(3, 10)),
            make_run("ckpt", model="my-ckpt", outcomes=_outcomes(6, 10))]
    board = _board(published, runs, pairs=[("InternVL3.0-38B", "my-ckpt")])
    md = to_markdown(board)
    assert "#### InternVL3.0-38B (run, sophia) vs my-ckpt" in md
    assert md.count("#### InternVL3.0-38B vs trained variants") == 1
    from sophia_eval.board.html import to_html

    assert "<h3>InternVL3.0-38B (run, sophia) vs my-ckpt</h3>" in to_html(board)
