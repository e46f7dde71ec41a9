"""Protocol presets: the paper's settings, overridable, validated."""

import pytest

from sophia_eval.harness.protocols import PRESETS, get_protocol


def test_sophia_preset_matches_paper_decoding():
    p = PRESETS["sophia"]
    assert (p.temperature, p.top_p, p.max_new_tokens, p.use_hint) == (1.0, 0.8, 16384, True)


def test_sophia_model_preset_uses_slow_thinking_prompt():
    assert PRESETS["sophia_model"].system_prompt == "sophia_slow_thinking"


def test_greedy_preset_is_greedy():
    assert get_protocol("greedy").generation_config().greedy


def test_override_changes_only_named_field():
    p = get_protocol("sophia", max_new_tokens=64, top_p=None)
    assert (p.max_new_tokens, p.top_p, p.name) == (64, 0.8, "sophia")


def test_unknown_field_is_rejected_with_field_list():
    with pytest.raises(ValueError, match="unknown protocol field"):
        get_protocol("greedy", temprature=0.5)


def test_unknown_preset_lists_presets():
    with pytest.raises(ValueError, match="presets are"):
        get_protocol("nope")


def test_greedy_with_many_samples_is_refused():
    with pytest.raises(ValueError, match="temperature > 0"):
        get_protocol("greedy", n=4)


def test_presets_are_frozen():
    with pytest.raises(AttributeError):
        PRESETS["sophia"].temperature = 0.5  # type: ignore[misc]
