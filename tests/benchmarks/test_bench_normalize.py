"""Named normalisations, one property each (real-data quirks are covered in test_bench_real_data)."""

from __future__ import annotations

import pytest

from sophia_eval.bench.loading import DataError
from sophia_eval.bench.normalizers import NORMALIZERS


def run(name: str, **draft):
    d = {"_where": "f.jsonl:1", "id": "x", **draft}
    NORMALIZERS[name](d)
    return d


def test_every_normalisation_is_documented():
    assert all(f.__doc__ and len(f.__doc__) > 20 for f in NORMALIZERS.values())


def test_tab_eaten_backslash_is_restored():
    assert run("fix_json_escapes", answer="2\times 3")["answer"] == "2\\times 3"


def test_backspace_eaten_backslash_is_restored():
    assert run("fix_json_escapes", answer="\binom{4}{2}")["answer"] == "\\binom{4}{2}"


def test_boxed_with_trailing_text_is_not_unwrapped():
    assert run("unwrap_boxed", answer="\\boxed{1} + \\boxed{2}")["answer"] == "\\boxed{1} + \\boxed{2}"


def test_nested_braces_in_boxed_survive_unwrapping():
    assert run("unwrap_boxed", answer="$\\boxed{\\frac{1}{2}}$")["answer"] == "\\frac{1}{2}"


def test_last_boxed_handles_nested_braces():
    assert run("last_boxed", answer="so \\boxed{1} then \\boxed{\\frac{a}{b}}.")["answer"] == "\\frac{a}{b}"


def test_last_boxed_without_box_is_an_error():
    with pytest.raises(DataError, match="item x.*boxed"):
        run("last_boxed", answer="no box here")


def test_option_text_gold_matching_no_option_is_an_error():
    with pytest.raises(DataError, match="item x.*neither a letter nor one of the options"):
        run("option_text_to_letter", answer="maybe", options=["yes", "no"])


def test_malformed_stringified_list_is_an_error():
    with pytest.raises(DataError, match="options"):
        run("stringified_lists", options="['a', 'b]")


def test_single_letter_is_choice_not_multi():
    assert run("letters_gold", answer="B")["answer_type"] == "choice"


def test_semicolon_options_malformed_is_an_error():
    with pytest.raises(DataError, match="A. ...; B. ..."):
        run("semicolon_options", options="first; second")


def test_hint_without_question_marker_is_dropped():
    assert run("hint_from_query", hint="Just a question text")["hint"] is None


def test_olympiad_tolerance_rejects_words():
    with pytest.raises(DataError, match="not a number"):
        run("olympiad_tolerance", tolerance="about 1e-2")


def test_bool_strings_rejects_other_words():
    with pytest.raises(DataError, match="True'/'False"):
        run("bool_strings", multiple="yes")


def test_numpy_calls_become_latex_function_names():
    assert run("numpy_calls", answer="np.arcsin(10/13)")["answer"] == "\\arcsin(10/13)"
    assert run("numpy_calls", answer="2*np.pi")["answer"] == "2*\\pi"
    assert run("numpy_calls", answer="snp.x + 0.5")["answer"] == "snp.x + 0.5"
