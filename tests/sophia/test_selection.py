"""Selection rules on hand-computed cases (alpha strict, correct only, shortest, Keep-N, ablations)."""

import pytest

from sophia_eval.sophia.config import SelectionConfig
from sophia_eval.sophia.selection import select_trajectories


def _t(item, cap, idx, reward, tokens, text=None):
    return {"item_id": item, "caption_index": cap, "sample_index": idx, "reward": reward,
            "completion_tokens": tokens, "reasoning": text if text is not None else "x" * tokens}


# Item "a": caption 0 has 4/4 correct (R=1.0), caption 1 has 3/4 (R=0.75, NOT > 0.75).
# The globally shortest correct trajectory (10 tokens) sits under caption 1.
ITEM_A = [
    _t("a", 0, 0, 1.0, 40), _t("a", 0, 1, 1.0, 30), _t("a", 0, 2, 1.0, 50), _t("a", 0, 3, 1.0, 35),
    _t("a", 1, 0, 1.0, 10), _t("a", 1, 1, 0.0, 5), _t("a", 1, 2, 1.0, 20), _t("a", 1, 3, 1.0, 25),
]
# Item "b": every caption below alpha -> contributes nothing under SOPHIA.
ITEM_B = [_t("b", 0, i, r, 10 + i) for i, r in enumerate([1.0, 0.0, 0.0, 1.0])]


def _keys(selected):
    return [(s["item_id"], s["caption_index"], s["sample_index"]) for s in selected]


def test_sophia_keep1_takes_shortest_correct_under_caption_strictly_above_alpha():
    selected, _ = select_trajectories(ITEM_A + ITEM_B, SelectionConfig(alpha=0.75))
    assert _keys(selected) == [("a", 0, 1)]


def test_alpha_is_strict_caption_at_exactly_alpha_is_excluded():
    selected, _ = select_trajectories(ITEM_A, SelectionConfig(alpha=0.75, keep=8))
    assert {s["caption_index"] for s in selected} == {0}


def test_lower_alpha_admits_the_other_caption():
    selected, _ = select_trajectories(ITEM_A, SelectionConfig(alpha=0.5))
    assert _keys(selected) == [("a", 1, 0)]


def test_keep_n_keeps_n_shortest_in_length_order():
    selected, _ = select_trajectories(ITEM_A, SelectionConfig(keep=3))
    assert _keys(selected) == [("a", 0, 1), ("a", 0, 3), ("a", 0, 0)]


def test_incorrect_trajectories_are_never_selected_even_when_shortest():
    selected, _ = select_trajectories(ITEM_A, SelectionConfig(variant="no_caption_reward", keep=8))
    assert ("a", 1, 1) not in _keys(selected)


def test_no_caption_reward_variant_ignores_alpha():
    selected, _ = select_trajectories(ITEM_A + ITEM_B, SelectionConfig(variant="no_caption_reward"))
    assert _keys(selected) == [("a", 1, 0), ("b", 0, 0)]


def test_tie_break_prefers_higher_caption_reward_then_lower_indices():
    trajs = [
        _t("c", 0, 0, 1.0, 7), _t("c", 0, 1, 0.0, 9),  # caption 0: R = 0.5
        _t("c", 1, 0, 1.0, 9), _t("c", 1, 1, 1.0, 7),  # caption 1: R = 1.0
        _t("c", 2, 1, 1.0, 7), _t("c", 2, 0, 1.0, 8),  # caption 2: R = 1.0
    ]
    selected, _ = select_trajectories(trajs, SelectionConfig(variant="no_caption_reward", keep=3))
    assert _keys(selected) == [("c", 1, 1), ("c", 2, 1), ("c", 0, 0)]


def test_none_reward_counts_as_zero_in_caption_reward():
    trajs = [_t("d", 0, 0, 1.0, 5), _t("d", 0, 1, 1.0, 6), _t("d", 0, 2, 1.0, 7), _t("d", 0, 3, None, 8)]
    selected, summary = select_trajectories(trajs, SelectionConfig(alpha=0.75))
    assert (selected, summary["n_unjudged"]) == ([], 1)


def test_random_variant_may_pick_incorrect_and_is_seeded_per_item():
    trajs = [_t("e", 0, i, 0.0, 5) for i in range(4)]
    first, _ = select_trajectories(trajs, SelectionConfig(variant="random", seed=3))
    again, _ = select_trajectories(trajs + ITEM_A, SelectionConfig(variant="random", seed=3))
    assert len(first) == 1 and _keys(first)[0] in _keys(again)


def test_no_shortest_variant_picks_only_correct_under_qualifying_caption():
    for seed in range(10):
        selected, _ = select_trajectories(ITEM_A, SelectionConfig(variant="no_shortest", seed=seed))
        assert selected[0]["caption_index"] == 0 and selected[0]["reward"] == 1.0


def test_no_shortest_variant_is_not_always_the_shortest():
    picks = {_keys(select_trajectories(ITEM_A, SelectionConfig(variant="no_shortest", seed=s))[0])[0]
             for s in range(20)}
    assert len(picks) > 1


def test_chars_length_unit_uses_text_length():
    trajs = [_t("f", 0, 0, 1.0, 1, text="long text here"), _t("f", 0, 1, 1.0, 99, text="short")]
    selected, _ = select_trajectories(trajs, SelectionConfig(length_unit="chars"))
    assert (_keys(selected), selected[0]["length"]) == ([("f", 0, 1)], 5)


def test_tokens_unit_without_token_counts_names_the_fix():
    trajs = [_t("g", 0, 0, 1.0, None, text="abc")]
    with pytest.raises(ValueError, match="length_unit='chars'"):
        select_trajectories(trajs, SelectionConfig())


def test_summary_kept_fraction_and_histogram():
    _, summary = select_trajectories(ITEM_A + ITEM_B, SelectionConfig())
    assert (summary["kept_fraction"], summary["caption_reward_histogram"]) == (
        0.5, {"0.5000": 1, "0.7500": 1, "1.0000": 1})


def test_config_rejects_unknown_variant_with_the_choices():
    with pytest.raises(ValueError, match="no_caption_reward"):
        SelectionConfig(variant="best")


def test_missing_reasoning_samples_count_as_zero_when_n_is_known():
    # N = 4 was asked for but only 2 trajectories of caption 0 were recorded (backend errors):
    # both correct is 2/4 = 0.5, not 2/2 = 1.0, so the caption must not pass alpha = 0.75.
    trajs = [_t("h", 0, 0, 1.0, 5), _t("h", 0, 1, 1.0, 6)]
    selected, summary = select_trajectories(trajs, SelectionConfig(), num_reasonings=4)
    assert (selected, summary["n_captions_incomplete"], summary["caption_reward_histogram"]) == (
        [], 1, {"0.5000": 1})


def test_run_selection_takes_n_from_the_sampling_records(tmp_path):
    import json

    from sophia_eval.bench.sample import Sample
    from sophia_eval.sophia.pipeline import run_selection
    from sophia_eval.sophia.selection import EmptySelectionError

    sampling = tmp_path / "sampling"
    sampling.mkdir()
    (sampling / "sampling.json").write_text(json.dumps({"config": {"num_captions": 1, "num_reasonings": 8}}))
    rows = [_t("h", 0, i, 1.0, 5 + i) for i in range(6)]  # 6 of 8 recorded, all correct: R(c) = 0.75
    (sampling / "trajectories.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = [Sample(benchmark="t", id="h", question="q?", answer="1", images=("/img.png",))]
    with pytest.raises(EmptySelectionError):
        run_selection(sampling, items, tmp_path / "sel", SelectionConfig())
