"""The HTML page: self-contained, one plot per table, and clean in a real headless browser."""

from __future__ import annotations

import re

import pytest

from lb_browser import find_chromium, render
from lb_helpers import VOCAB
from sophia_eval.board.baselines import load_baselines, load_protocols
from sophia_eval.board.leaderboard import build_leaderboard
from sophia_eval.board.output import write_outputs
from sophia_eval.board.html import to_html
from sophia_eval.runs.reading import load_runs


@pytest.fixture
def board(make_run, tmp_path):
    make_run("base", model="tiny-base", outcomes={str(i): [i < 3] for i in range(10)})
    make_run("ckpt", model="tiny-<b>ckpt</b>", outcomes={str(i): [i < 6] for i in range(10)})
    make_run("m500", model="tiny-base", benchmark="math500", outcomes={str(i): [i < 2] for i in range(10)})
    runs, skipped = load_runs([tmp_path / "runs"])
    return build_leaderboard(runs, load_baselines(vocab=VOCAB), load_protocols(), VOCAB, skipped=skipped,
                             pairs=[("tiny-base", "tiny-<b>ckpt</b>")])


def test_page_loads_nothing_from_outside(board):
    page = to_html(board)
    assert not re.search(r"<script[^>]*\bsrc=|<link|<iframe|@import|url\(\s*['\"]?https?:|src=\"https?:", page, re.I)
    assert page.count("<script") == 1  # the one inline sorting script


def test_page_has_one_bar_chart_per_table_plus_base_charts(board):
    page = to_html(board)
    assert page.count("<svg") == len(board.tables) + len(board.charts)


def test_model_names_are_escaped(board):
    page = to_html(board)
    assert "tiny-&lt;b&gt;ckpt&lt;/b&gt;" in page and "tiny-<b>ckpt" not in page


def test_runs_with_intervals_get_whiskers(board):
    table = next(t for t in board.tables if t.benchmark == "math500")
    from sophia_eval.board.html import bar_chart_svg

    assert bar_chart_svg(table).count("<path") == 1


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (CI installs Debian's chromium)")


@pytest.mark.slow
@needs_chromium
def test_page_renders_in_headless_chromium_without_console_errors(board, tmp_path):
    paths = write_outputs(board, tmp_path / "out")
    report = render(paths["html"].resolve().as_uri(), tmp_path / "page.png")
    assert report.problems == []
    from PIL import Image

    with Image.open(report.screenshot) as im:
        # A full page of tables and plots: tall, and not blank (many distinct colours drawn).
        assert im.height > 3000 and len(im.convert("RGB").getcolors(maxcolors=1 << 20)) > 50


@pytest.mark.slow
@needs_chromium
def test_browser_check_catches_console_errors_and_external_loads(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="https://example.invalid/x.png">'
                   '<script>console.error("deliberate")</script></body></html>', encoding="utf-8")
    report = render(bad.as_uri(), tmp_path / "bad.png")
    assert any("deliberate" in p for p in report.console_errors)
    assert any("example.invalid" in p for p in report.external_requests)


def test_base_chart_labels_the_gain_over_the_base(board):
    from sophia_eval.board.html import base_chart_svg

    chart = next(c for c in board.charts if c.base == "tiny-base" and c.protocol == "sophia")
    # mathvision: base 30.00, checkpoint 60.00 -> +30.0 on the benchmark and on the average
    assert base_chart_svg(chart).count(">+30.0</text>") == 2


def test_run_pair_chart_draws_each_runs_interval_as_a_whisker(board):
    from sophia_eval.board.html import base_chart_svg

    chart = next(c for c in board.charts if c.base == "tiny-base" and c.protocol == "sophia")
    # two runs (base, checkpoint) on one benchmark: one whisker per bar; the average has none
    assert {m for m, _ in chart.intervals} == {"tiny-base", "tiny-<b>ckpt</b>"}
    assert base_chart_svg(chart).count('class="whisker"') == 2


def test_long_labels_are_shortened_in_the_middle_keeping_the_run_directory():
    from sophia_eval.board.html import _fit

    short = _fit("SmolLM2-135M-Instruct.Q4_1.gguf (run, greedy) smol-math500-l1-320", 40)
    assert len(short) == 40 and short.endswith("smol-math500-l1-320") and short.startswith("SmolLM2")


def test_wide_tables_scroll_inside_their_own_box(board):
    # The overviews have a column per benchmark (8 under the SOPHIA protocol) and are wider than
    # the page column; each table sits in a box that scrolls sideways instead of the whole page.
    page = to_html(board)
    assert page.count("<table") == page.count('<div class="scroll"><table') > 0
    assert ".scroll{overflow-x:auto" in page


@pytest.mark.slow
@needs_chromium
def test_page_does_not_scroll_sideways_on_a_laptop_screen(board, tmp_path):
    paths = write_outputs(board, tmp_path / "out")
    report = render(paths["html"].resolve().as_uri(), tmp_path / "page.png", width=1024)
    from PIL import Image

    with Image.open(report.screenshot) as im:  # the capture spans the content: wider = sideways scroll
        assert im.width <= 1024
