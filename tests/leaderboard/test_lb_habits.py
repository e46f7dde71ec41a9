"""Leaderboard rows and shared files: distinct models stay distinct, shards hide behind their
merged run, left-out runs are listed, CSV/markdown are safe to open and hold no local paths."""

from __future__ import annotations

import csv
import io
import re

from lb_helpers import VOCAB
from sophia_eval.board.leaderboard import build_leaderboard
from sophia_eval.board.output import to_csv, to_markdown
from sophia_eval.runs.reading import load_runs
from sophia_eval.runs.store import RunStore


def _outcomes(n_correct, n):
    return {str(i): [i < n_correct] for i in range(n)}


def _board(run_dirs):
    runs, skipped = load_runs(list(run_dirs))
    return build_leaderboard(runs, [], {}, VOCAB, skipped=skipped)


def _run_models(board):
    return sorted({r.entry.model for _, r in board.entries() if r.entry.kind == "run"})


def test_two_different_models_with_one_display_name_get_two_rows(make_run, tmp_path):
    a = make_run("a", model="/ckpts/r1/train/final", benchmark="math500", outcomes=_outcomes(1, 4))
    b = make_run("b", model="/ckpts/r2/train/final", benchmark="math500", outcomes=_outcomes(3, 4))
    board = _board([a, b])
    assert _run_models(board) == ["r1/train/final", "r2/train/final"]
    (overview,) = board.overviews
    assert len(overview.rows) == 2


def test_one_name_given_to_two_models_is_told_apart(make_run):
    dirs = [make_run(d, model=m, benchmark="math500", outcomes=_outcomes(1, 4)) for d, m in (("a", "org/m1"), ("b", "org/m2"))]
    for d in dirs:
        RunStore(d).update_meta(name="mine")
    assert _run_models(_board(dirs)) == ["mine (m1)", "mine (m2)"]


def test_shards_are_left_out_beside_their_merged_run(make_run):
    shards = [make_run(f"s{i}", model="m", benchmark="math500", outcomes=_outcomes(1, 2)) for i in range(2)]
    merged = make_run("merged", model="m", benchmark="math500", outcomes=_outcomes(2, 4))
    RunStore(merged).update_meta(merged_from=[str(s) for s in shards])
    board = _board([*shards, merged])
    assert [r.entry.source for _, r in board.entries() if r.entry.kind == "run"] == [str(merged)]
    assert sorted(p for p, _ in board.skipped) == sorted(map(str, shards))
    assert all("merged run" in why for _, why in board.skipped)


def test_a_run_with_no_scored_value_is_listed_with_the_reason(make_run):
    errors = make_run("err", model="m", benchmark="math500", outcomes={"1": [None], "2": [None]})
    RunStore(errors).update_meta(status="complete")  # as an older sophia-eval would have left it
    board = _board([errors])
    assert [p for p, _ in board.skipped] == [str(errors)] and "error 2" in board.skipped[0][1]
    assert "left out" in to_markdown(board)


def test_csv_neutralises_formulas_and_markdown_escapes_html(make_run):
    dirs = [make_run("f", model="=cmd|' /C calc'!A0", benchmark="math500", outcomes=_outcomes(1, 2)),
            make_run("h", model="<script>alert(1)</script>", benchmark="math500", outcomes=_outcomes(1, 2)),
            make_run("t", model="\tx", benchmark="math500", outcomes=_outcomes(1, 2))]
    board = _board(dirs)
    rows = list(csv.DictReader(io.StringIO(to_csv(board))))
    models = {r["model"] for r in rows}
    assert "'=cmd|' /C calc'!A0" in models and "'\tx" in models
    assert all(not str(v).startswith(("=", "+", "@", "\t", "\r")) for r in rows for v in r.values())
    assert any(r["ci_low"] for r in rows)  # numbers are left alone
    md = to_markdown(board)
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_shared_files_hold_no_absolute_paths(make_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "..")  # the runs are not below the working directory
    board = _board([make_run("x", model="m", benchmark="math500", outcomes=_outcomes(1, 2))])
    assert str(tmp_path) not in to_csv(board) and str(tmp_path) not in to_markdown(board)


def _pair_board(make_run, tmp_path):
    base = make_run("base", model="base-model", outcomes=_outcomes(3, 10))
    ckpt = make_run("ckpt", model="/x/r1/train/final", outcomes=_outcomes(6, 10))
    runs, skipped = load_runs([base, ckpt])
    from sophia_eval.board.baselines import load_baselines, load_protocols

    return build_leaderboard(runs, load_baselines(vocab=VOCAB), load_protocols(), VOCAB, skipped=skipped,
                             pairs=[("base-model", "final")])


def test_html_overview_leads_with_rank_model_average_and_links_runs(make_run, tmp_path):
    from sophia_eval.board.output import write_outputs

    paths = write_outputs(_pair_board(make_run, tmp_path), tmp_path / "out")
    page = paths["html"].read_text()
    head = page[page.index('<table class="overview">'):]
    head = head[: head.index("</tr>")]
    assert re.findall(r'<th class="sort">([^<]*)</th>', head)[:4] == ["#", "Model", "Average", "Benchmarks"]
    assert 'href="../runs/ckpt/samples.jsonl"' in page and 'href="../runs/ckpt/"' in page
    assert page.count("<script>") == 1 and 'class="sort"' in page


def test_html_puts_the_users_pair_chart_before_published_ones(make_run, tmp_path):
    from sophia_eval.board.html import to_html

    board = _pair_board(make_run, tmp_path)
    page = to_html(board)
    mine = next(c for c in board.charts if c.base_run_preset is not None)
    published = [c for c in board.charts if c.protocol == mine.protocol and c.base_run_preset is None]
    assert published and all(page.index(mine.title) < page.index(f"<h3>{c.title}") for c in published)


def test_html_pair_of_runs_shows_paired_interval_and_p_value(make_run, tmp_path):
    from sophia_eval.board.html import to_html

    page = to_html(_pair_board(make_run, tmp_path))
    assert "Δ points over base-model" in page and "+30.00" in page  # 6 of 10 vs 3 of 10
    assert "mcnemar_exact (10 items)" in page
