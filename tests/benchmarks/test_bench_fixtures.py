"""Loaders for benchmarks without offline data, on self-made fixtures in the real source format."""

from __future__ import annotations

from sophia_eval.bench.loading import load_split
from sophia_eval.bench.registry import get_benchmark

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name, split=None, **kw):
    samples, _ = load_split(get_benchmark(name), split, data_dir=FIXTURES / name, check_count=False, **kw)
    return {s.id: s for s in samples}


def test_dynamath_variant_ids_are_unique_and_grouped_by_seed():
    items = load("dynamath")
    assert len(items) == 20 and {s.categories["seed"] for s in items.values()} == {"1", "2"}


def test_dynamath_variant_category_comes_from_the_hub_split():
    assert load("dynamath")["1_7"].categories["variant"] == "7"


def test_dynamath_float_gold_carries_official_tolerance():
    s = load("dynamath")["1_3"]
    assert (s.answer, s.answer_type, s.tolerance) == ("3.0", "numeric", 0.001)


def test_dynamath_embedded_image_is_decoded():
    assert load("dynamath")["2_1"].images[0].size == (8, 8)


def test_wemath_id_and_four_dimension_categories():
    s = load("wemath")["7_2steps_multi"]
    assert (s.categories["problem_id"], s.categories["step"]) == ("7", "2steps_multi")


def test_wemath_option_string_is_split_into_options():
    assert load("wemath")["7_2steps_1"].options == ("2", "3", "4", "5", "No correct answer")


def test_mv_math_keeps_every_image_in_order():
    imgs = load("mv_math")["2"].images
    assert [p.rsplit("/", 1)[1] for p in imgs] == ["2_1.png", "2_2.png", "2_3.png"]


def test_mv_math_multi_step_gold_is_joined():
    s = load("mv_math")["3"]
    assert (s.answer, s.multiple) == ("2, 5", True)


def test_mathverse_vision_only_split_selects_its_version():
    items = load("mathverse", "testmini_vision_only")
    assert {s.categories["version"] for s in items.values()} == {"Vision Only"} and len(items) == 2


def test_mathverse_vision_only_question_text_is_empty():
    assert all(s.question == "" for s in load("mathverse", "testmini_vision_only").values())


def test_mathvista_parquet_hint_and_letter_gold():
    s = load("mathvista")["1"]
    assert (s.answer, s.answer_type, s.hint.startswith("Hint:")) == ("B", "choice", True)


def test_mmmu_pro_vision_has_only_the_screenshot():
    s = load("mmmu_pro", "vision")["test_Math_2"]
    assert (s.question, s.options, len(s.images), s.answer) == ("", (), 1, "J")


def test_mmmu_pro_standard_parses_stringified_options():
    assert len(load("mmmu_pro", "standard")["test_Math_1"].options) == 10


def test_olympiad_hf_string_quirks_are_parsed():
    s = load("olympiadbench", "oe_mm_maths_en_comp")["2231"]
    assert (s.answer, s.multiple, s.tolerance) == ("$4$", False, None)


def test_olympiad_hf_context_is_put_before_the_question():
    assert load("olympiadbench", "oe_mm_maths_en_comp")["2232"].question.startswith("A parabola is drawn.\n\n")


def test_olympiad_hf_multimodal_item_keeps_all_images():
    assert len(load("olympiadbench", "oe_mm_maths_en_comp")["2232"].images) == 2


def test_fixture_count_differs_from_the_real_count_and_is_reported():
    import pytest

    from sophia_eval.bench.loading import DataError

    with pytest.raises(DataError, match="expects 5010"):
        load_split(get_benchmark("dynamath"), data_dir=FIXTURES / "dynamath")


def _mmmu_math_part():
    # one subject of the 30-config validation split, read through its own part
    spec = get_benchmark("mmmu")
    part = next(p for p in spec.split("validation").parts if p.categories.get("subject") == "Math")
    return spec, part


def test_mmmu_hf_parquet_stringified_options_and_subject():
    import dataclasses

    spec, part = _mmmu_math_part()
    one = dataclasses.replace(spec.split("validation"), parts=(part,), n_items=2)
    spec1 = dataclasses.replace(spec, splits={"validation": one})
    samples, _ = load_split(spec1, "validation", data_dir=FIXTURES / "mmmu")
    s = {x.id: x for x in samples}
    assert (s["validation_Math_1"].options, s["validation_Math_1"].categories["subject"], len(s["validation_Math_1"].images)) == (
        ("the first", "the second"), "Math", 2)


def test_mmmu_hf_open_answer_list_keeps_first_form():
    import dataclasses

    spec, part = _mmmu_math_part()
    one = dataclasses.replace(spec.split("validation"), parts=(part,), n_items=2)
    samples, _ = load_split(dataclasses.replace(spec, splits={"validation": one}), "validation", data_dir=FIXTURES / "mmmu")
    assert {x.id: x for x in samples}["validation_Math_2"].answer == "24/7"
