"""Loaders on the real shared data: item counts from the data README, and every listed quirk."""

from __future__ import annotations

import pytest



def by_id(samples):
    return {s.id: s for s in samples}

# (benchmark, split, items in the data README) for every split whose data is in the shared folder;
# items whose gold is broken upstream are excluded by the spec, with a reason, and counted here.
COUNTS = [
    ("mathvision", "test", 3040), ("mathvision", "testmini", 304),
    ("olympiadbench", "oe_to_maths_en_comp", 675), ("logicvista", "test", 448),
    ("mmmu", "validation_partial", 210), ("mathvista", "testmini", 1000),
    ("mathverse", "testmini_text_only", 788), ("mmmu_pro", "standard", 1730), ("mmmu_pro", "vision", 1730),
    ("math500", "test", 500), ("aime24", "test", 30), ("aime24", "qwq", 30), ("aime25", "test", 30),
    ("amc23", "test", 40), ("minerva_math", "test", 272),
]


@pytest.mark.parametrize("name,split,n", COUNTS)
def test_item_count_matches_data_readme(load, name, split, n):
    samples, report = load(name, split)
    assert len(samples) + len(report.excluded) == n
    assert len(report.excluded) <= 3  # exclusions stay rare; each one is declared with its reason


# --- MathVision -------------------------------------------------------------------------------

def test_mathvision_formfeed_gold_is_restored_to_frac(load):
    assert by_id(load("mathvision", "test")[0])["2830"].answer == "\\frac{36}{13}"


def test_mathvision_free_form_letter_golds_are_choices(load):
    items = by_id(load("mathvision", "test")[0])
    assert [(items[i].answer, items[i].answer_type) for i in ("59", "434")] == [("C", "choice")] * 2


def test_mathvision_boxed_golds_are_unwrapped(load):
    items = by_id(load("mathvision", "test")[0])
    assert [items[i].answer for i in ("2828", "2833", "2875", "2877")] == [
        "\\frac{16}{7}", "\\frac{121}{180}", "\\frac{144}{49}", "\\frac{3}{4}"]


def test_mathvision_golds_have_no_surrounding_whitespace(load):
    assert all(s.answer == s.answer.strip() for s in load("mathvision", "test")[0])


def test_mathvision_image2_mentions_still_get_one_composite_image(load):
    multi = [s for s in load("mathvision", "test")[0] if "<image2>" in s.question]
    assert len(multi) == 334 and all(len(s.images) == 1 for s in multi)


def test_mathvision_images_exist_on_disk(load, data_root):
    from pathlib import Path

    samples, _ = load("mathvision", "testmini", require_images=True)
    assert all(Path(s.images[0]).is_file() for s in samples)


def test_mathvision_choice_count(load):
    assert sum(s.answer_type == "choice" and bool(s.options) for s in load("mathvision", "test")[0]) == 1532


# --- OlympiadBench ----------------------------------------------------------------------------

def test_olympiad_first_release_keeps_only_open_ended_auto_scorable(load):
    samples, report = load("olympiadbench", "early_release_open_ended")
    assert (report.records, len(samples), report.filtered_out) == (8952, 6197 - 22, 8952 - 6197)


def test_olympiad_list_gold_is_joined_and_marked_multiple(load):
    # id 1198 lists two answers although is_multiple_answer is False: the list wins
    s = by_id(load("olympiadbench", "early_release_open_ended")[0])["1198"]
    assert (s.answer, s.multiple) == ("$\\sqrt{k / m-\\omega_{s s}^{2}}$, $\\sqrt{k / m-\\frac{g_E}{R}}$", True)


def test_olympiad_comma_error_gives_one_tolerance_per_sub_answer(load):
    items = by_id(load("olympiadbench", "early_release_open_ended")[0])
    assert items["1066"].tolerance == (0.01, 0.001)


def test_olympiad_empty_error_entry_gets_the_official_default(load):
    assert by_id(load("olympiadbench", "early_release_open_ended")[0])["356"].tolerance == (1e-8, 0.01)


def test_olympiad_none_error_means_no_tolerance(load):
    assert by_id(load("olympiadbench", "oe_to_maths_en_comp")[0])["1606"].tolerance is None


def test_olympiad_unit_is_carried(load):
    units = {s.unit for s in load("olympiadbench", "early_release_open_ended")[0]}
    assert {"m", "km/h"} <= units


def test_olympiad_answer_type_is_mapped(load):
    types = {s.answer_type for s in load("olympiadbench", "oe_to_maths_en_comp")[0]}
    assert types == {"numeric", "expression", "tuple", "interval"}


def test_olympiad_figures_of_first_release_are_kept_as_web_images(load):
    samples, _ = load("olympiadbench", "early_release_open_ended")
    assert sum(any(str(i).startswith("https://") for i in s.images) for s in samples) > 1000


def test_olympiad_text_only_split_has_no_figures(load):
    assert not any(s.images for s in load("olympiadbench", "early_release_text_only")[0])


def test_olympiad_web_figures_are_refused_for_evaluation(data_root):
    from sophia_eval.bench.loading import DataError, load_split
    from sophia_eval.bench.registry import get_benchmark

    with pytest.raises(DataError, match="web URL"):
        load_split(get_benchmark("olympiadbench"), "early_release_open_ended", data_dir=data_root, require_images=True)


# --- LogicVista -------------------------------------------------------------------------------

def test_logicvista_empty_record_is_excluded_with_reason(load):
    samples, report = load("logicvista", "test")
    assert "v1_382" in report.excluded and "v1_382" not in by_id(samples)


def test_logicvista_key_typo_record_loads(load):
    assert "v1_220" in by_id(load("logicvista", "test")[0])


def test_logicvista_multi_letter_gold_is_multi_choice(load):
    s = by_id(load("logicvista", "test")[0])["v1_1"]
    assert (s.answer, s.answer_type) == ("A, C", "multi_choice")


def test_logicvista_letters_beyond_e_are_choices(load):
    items = by_id(load("logicvista", "test")[0])
    assert [(items[i].answer, items[i].answer_type) for i in ("v1_4", "v1_21")] == [("G", "choice"), ("F", "choice")]


def test_logicvista_numeric_option_gold_is_left_to_the_verifier(load):
    s = by_id(load("logicvista", "test")[0])["v1_20"]
    assert (s.answer, s.answer_type) == ("3", None)


# --- MMMU / MMMU-Pro --------------------------------------------------------------------------

def test_mmmu_stringified_fields_become_lists(load):
    s = by_id(load("mmmu", "validation_partial")[0])["validation_Accounting_1"]
    assert (s.options, s.categories["img_type"]) == (("$6", "$7", "$8", "$9"), "Tables")


def test_mmmu_alternative_open_answers_keep_the_exact_form(load):
    assert by_id(load("mmmu", "validation_partial")[0])["validation_Math_15"].answer == "24/7"


def test_mmmu_multi_image_items_keep_every_image(load):
    assert max(len(s.images) for s in load("mmmu", "validation_partial")[0]) == 4


def test_mmmu_pro_standard_uses_the_ten_shuffled_options(load):
    s = by_id(load("mmmu_pro", "standard")[0])["test_History_1"]
    assert len(s.options) == 10 and s.options[int("ABCDEFGHIJ".index(s.answer))] == "The spread of pathogens across the Silk Road"


def test_metadata_only_copy_is_refused_for_evaluation(data_root):
    from sophia_eval.bench.loading import DataError, load_split
    from sophia_eval.bench.registry import get_benchmark

    with pytest.raises(DataError, match="metadata only"):
        load_split(get_benchmark("mmmu_pro"), "vision", data_dir=data_root)


# --- MathVista / MathVerse --------------------------------------------------------------------

def test_mathvista_option_text_gold_becomes_letter(load):
    s = by_id(load("mathvista", "testmini")[0])["3"]
    assert (s.answer, s.options[2]) == ("C", "145°")


def test_mathvista_languages(load):
    langs = [s.categories["language"] for s in load("mathvista", "testmini")[0]]
    assert (langs.count("chinese"), langs.count("persian")) == (62, 2)


def test_mathvista_hint_comes_from_query(load):
    s = by_id(load("mathvista", "testmini")[0])["1"]
    assert s.hint.startswith("Hint: Please answer the question requiring a floating-point number") and s.precision == 1


def test_mathverse_degree_mojibake_is_fixed(load):
    answers = [s.answer for s in load("mathverse", "testmini_text_only")[0]]
    assert "118°T" in answers and not any("掳" in a for a in answers)


def test_mathverse_choice_options_are_parsed_from_question(load):
    s = by_id(load("mathverse", "testmini_text_only")[0])["1"]
    assert (s.options, s.answer_type) == (("40°", "60°", "120°", "140°"), "choice")


# --- text sets --------------------------------------------------------------------------------

def test_aime25_prompt_suffix_is_stripped(load):
    assert not any("Please reason step by step" in s.question for s in load("aime25", "test")[0])


def test_minerva_gold_is_last_boxed_of_solution(load):
    assert by_id(load("minerva_math", "test")[0])["0"].answer == "1.6"


def test_amc_float_gold_is_a_string(load):
    assert by_id(load("amc23", "test")[0])["0"].answer == "27.0"


def test_verifier_understands_the_repaired_quirk_golds(load):
    from sophia_eval.verify import check_gold

    items = by_id(load("mathvision", "test")[0])
    reasons = [check_gold(gold=items[i].answer, **items[i].verify_kwargs()) for i in ("2830", "2828", "59", "2521")]
    assert reasons == [None] * 4


def test_olympiad_broken_upstream_golds_are_declared_exclusions(load):
    _, report = load("olympiadbench", "early_release_open_ended")
    assert {"3805", "7429", "1965", "5902", "8180", "1214", "8897"} <= set(report.excluded) and len(report.excluded) == 22


def test_olympiad_fullwidth_gold_characters_become_ascii(load):
    assert by_id(load("olympiadbench", "early_release_open_ended")[0])["3920"].answer == "$a=-1$"
