"""OutcomeReward: RL-library call shape, statuses counted, picklable, safe in threads/processes."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest

from sophia_eval.reward import OutcomeReward


def test_rewards_per_completion() -> None:
    r = OutcomeReward()
    assert r(["\\boxed{3}", "\\boxed{4}", "no idea at all, sorry.\nreally none"], answer=["3", "3", "3"]) == [1.0, 0.0, 0.0]


def test_unverifiable_items_are_none_and_counted() -> None:
    r = OutcomeReward()
    out = r(["\\boxed{3}"], answer=["\x0crac{1}{2}"])
    assert (out, r.counts["bad_gold"]) == ([None], 1)


def test_counts_every_status() -> None:
    r = OutcomeReward()
    r(["\\boxed{3}", "\\boxed{4}", ""], answer=["3", "3", "3"])
    assert dict(r.counts) == {"correct": 1, "incorrect": 1, "no_answer": 1}


def test_chat_format_completions() -> None:
    comps = [[{"role": "assistant", "content": "The answer is \\boxed{7}"}],
             [{"role": "assistant", "content": [{"type": "text", "text": "\\boxed{8}"}]}]]
    assert OutcomeReward()(comps, answer=["7", "7"]) == [1.0, 0.0]


def test_metadata_columns_are_used() -> None:
    r = OutcomeReward()
    out = r(["\\boxed{2}", "\\boxed{3.14}"], answer=["B", "3.14159"],
            options=[["1", "2", "3"], None], tolerance=[None, 0.01])
    assert out == [1.0, 1.0]


def test_extra_columns_are_ignored() -> None:
    assert OutcomeReward()(["\\boxed{1}"], answer=["1"], prompt=["q"], image=[None]) == [1.0]


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="2 completions but 1 answers"):
        OutcomeReward()(["a", "b"], answer=["1"])


def test_missing_answer_column_raises() -> None:
    with pytest.raises(TypeError, match="answer="):
        OutcomeReward()(["a"])


def test_pickle_roundtrip_keeps_config_and_works() -> None:
    r = pickle.loads(pickle.dumps(OutcomeReward(policy="lenient", timeout=3.0)))
    assert (r.policy, r.timeout, r(["so it is 12 in the end, I think, after all of that work\nok"], answer=["12"])) == ("lenient", 3.0, [1.0])


def test_has_a_name_for_trainer_logs() -> None:
    assert OutcomeReward().__name__ == "outcome_reward"


def test_thread_safe_counts() -> None:
    r = OutcomeReward()
    threads = [threading.Thread(target=r, args=(["\\boxed{1}"] * 50,), kwargs={"answer": ["1"] * 50}) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.counts["correct"] == 200


def test_private_pool_with_workers() -> None:
    r = OutcomeReward(workers=1, timeout=30)
    try:
        assert r(["\\boxed{\\frac{1}{2}\\sqrt{3}}"], answer=["\\frac{\\sqrt{3}}{2}"]) == [1.0]
    finally:
        r.close()


def _call(reward: OutcomeReward) -> list:
    return reward(["\\boxed{(x-1)(x+1)}"], answer=["x^2-1"])


@pytest.mark.slow
def test_works_in_a_spawned_worker_process() -> None:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        assert ex.submit(_call, OutcomeReward()).result(timeout=120) == [1.0]
