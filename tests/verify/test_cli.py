"""`sophia-eval verify`, exercised through its own command module."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from sophia_eval.cli import verify_cmd


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test group"""

    verify_cmd.register(app)
    return app


runner = CliRunner()


def test_correct_prints_status_and_exits_zero() -> None:
    res = runner.invoke(_app(), ["verify", "--gold", "\\frac{1}{2}", "--pred", "so \\boxed{0.5}"])
    assert (res.exit_code, "correct" in res.output) == (0, True)


def test_incorrect_exits_one() -> None:
    assert runner.invoke(_app(), ["verify", "--gold", "2", "--pred", "\\boxed{3}"]).exit_code == 1


def test_bad_gold_exits_two() -> None:
    assert runner.invoke(_app(), ["verify", "--gold", "", "--pred", "\\boxed{3}"]).exit_code == 2


def test_json_output_is_a_verdict() -> None:
    res = runner.invoke(_app(), ["verify", "-g", "B", "-p", "5 cm", "--options", "3 cm|5 cm|7 cm", "--json"])
    assert json.loads(res.output)["status"] == "correct"


def test_repeated_options_flag() -> None:
    res = runner.invoke(_app(), ["verify", "-g", "B", "-p", "\\boxed{5}", "-o", "3", "-o", "5", "--json"])
    assert json.loads(res.output)["pred_parsed"] == "B"


def test_tolerance_list_and_multiple() -> None:
    args = ["verify", "-g", "1, 2", "-p", "\\boxed{1.05, 2.3}", "--tolerance", "0.1,0.5", "--multiple"]
    assert runner.invoke(_app(), args).exit_code == 0


def test_pred_from_stdin() -> None:
    assert runner.invoke(_app(), ["verify", "-g", "7", "-p", "-"], input="The answer is 7.").exit_code == 0


def test_unknown_answer_type_names_the_choices() -> None:
    res = runner.invoke(_app(), ["verify", "-g", "1", "-p", "1", "--answer-type", "number"])
    assert res.exit_code == 2 and "numeric" in res.output


def test_unknown_policy_names_the_known_ones() -> None:
    res = runner.invoke(_app(), ["verify", "-g", "1", "-p", "1", "--policy", "nope"])
    assert res.exit_code == 2 and "lenient" in res.output
