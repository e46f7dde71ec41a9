"""Sampling pipeline bookkeeping with a deterministic test-double Generator: counts, rewards,
resume without resampling, retry of backend errors, refusal to mix configurations."""

import json

import pytest

from sophia_eval.backends.base import BackendError, Completion
from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import SamplingConfig
from sophia_eval.runs.jsonl import RecordError
from sophia_eval.sophia.sampling import CAPTIONS_FILE, TRAJECTORIES_FILE, run_sampling

ITEMS = [Sample(benchmark="t", id=str(i), question=f"What is {i}+1?", answer=str(i + 1), images=(f"/img/{i}.png",))
         for i in range(3)]


class FakeGenerator:
    """Captions name the item's image; reasoning answers `i+1` unless the caption is index 1."""

    name = "fake"

    def __init__(self, model="fake", fail_first=0, down=False):
        self.model, self.fail_first, self.down = model, fail_first, down
        self.calls = []

    def describe(self):
        return {"model": self.model, "backend": "fake"}

    def generate(self, conversations, config):
        out = []
        for conv in conversations:
            self.calls.append(config.n)
            content = conv[-1]["content"]
            comps = []
            for j in range(config.n):
                if self.down or self.fail_first > 0:
                    self.fail_first -= 1
                    comps.append(Completion(text="", finish_reason="error", error="connection refused"))
                elif isinstance(content, list):  # caption request: the image path tells the item
                    comps.append(Completion(text=f"caption of {content[0]['image']} #{j}", finish_reason="stop",
                                            completion_tokens=5))
                else:
                    i = int(content.split("What is ")[-1].split("+")[0])
                    ans = i + 1 if "#1" not in content else i + 7
                    comps.append(Completion(text=f"so \\boxed{{{ans}}}" + "." * j, finish_reason="stop",
                                            completion_tokens=3 + j))
            out.append(comps)
        return out


def _cfg(**kw):
    return SamplingConfig(**{"num_captions": 2, "num_reasonings": 3, "batch_size": 2, **kw})


def _lines(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_writes_k_captions_and_n_trajectories_per_caption(tmp_path):
    stats = run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    assert (stats.captions_total, stats.trajectories_total) == (6, 18)


def test_rewards_come_from_the_verifier_per_trajectory(tmp_path):
    run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    rewards = {(t["item_id"], t["caption_index"]): t["reward"] for t in _lines(tmp_path / TRAJECTORIES_FILE)}
    assert rewards == {(str(i), k): (1.0 if k == 0 else 0.0) for i in range(3) for k in range(2)}


def test_trajectory_records_keep_caption_teacher_and_lengths(tmp_path):
    run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    t = _lines(tmp_path / TRAJECTORIES_FILE)[0]
    assert (t["teacher_model"], t["policy_model"], t["caption"].startswith("caption of"), t["completion_tokens"],
            t["chars"]) == ("reasoner", "fake", True, 3, len(t["reasoning"]))


def test_rerun_samples_nothing_twice(tmp_path):
    run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    policy, reasoner = FakeGenerator(), FakeGenerator("reasoner")
    stats = run_sampling(ITEMS, policy, reasoner, tmp_path, _cfg(), show_progress=False)
    assert (policy.calls, reasoner.calls, stats.trajectories_total) == ([], [], 18)


def test_torn_last_line_is_resampled_only_for_what_it_lost(tmp_path):
    run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    path = tmp_path / TRAJECTORIES_FILE
    data = path.read_text()
    path.write_text(data[: data.rstrip("\n").rfind("\n") + 1] + '{"item_id": "2", "capt')  # crash mid-line
    reasoner = FakeGenerator("reasoner")
    stats = run_sampling(ITEMS, FakeGenerator(), reasoner, tmp_path, _cfg(), show_progress=False)
    assert (reasoner.calls, stats.trajectories_new, len(_lines(path))) == ([1], 1, 18)


def test_backend_errors_are_not_recorded_and_are_retried(tmp_path):
    stats = run_sampling(ITEMS, FakeGenerator(fail_first=1), FakeGenerator("reasoner"), tmp_path, _cfg(),
                         show_progress=False)
    assert (stats.backend_errors, stats.captions_total) == (1, 5)
    stats = run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    assert (stats.captions_new, stats.captions_total, stats.trajectories_total) == (1, 6, 18)


def test_reasoner_down_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match="reasoner returned an error for every request.*server up"):
        run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner", down=True), tmp_path, _cfg(),
                     show_progress=False)


def test_resume_with_a_different_config_is_refused(tmp_path):
    run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    with pytest.raises(RecordError, match="num_reasonings"):
        run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(num_reasonings=4),
                     show_progress=False)


def test_batch_size_may_change_on_resume(tmp_path):
    run_sampling(ITEMS[:1], FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    stats = run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(batch_size=5),
                         show_progress=False)
    assert stats.trajectories_total == 18


def test_items_without_image_are_skipped_and_reported(tmp_path):
    text_item = Sample(benchmark="t", id="t1", question="What is 1+1?", answer="2")
    stats = run_sampling([text_item, ITEMS[0]], FakeGenerator(), FakeGenerator("r"), tmp_path, _cfg(),
                         show_progress=False)
    assert (stats.items_without_image, stats.captions_total) == (["t1"], 2)


def test_caption_file_has_one_line_per_item_and_index(tmp_path):
    run_sampling(ITEMS, FakeGenerator(), FakeGenerator("reasoner"), tmp_path, _cfg(), show_progress=False)
    keys = [(c["item_id"], c["caption_index"]) for c in _lines(tmp_path / CAPTIONS_FILE)]
    assert sorted(keys) == [(str(i), k) for i in range(3) for k in range(2)]


class ThinkClosingGenerator(FakeGenerator):
    """A reasoner served without a reasoning parser (QwQ: `<think>` is in the prompt), half the time;
    every completion of a call reports the call's latency, as batched backends do."""

    def generate(self, conversations, config):
        out = super().generate(conversations, config)
        return [[Completion(text=("thinking...</think>" if j % 2 == 0 else "<think>x</think>") + c.text,
                            finish_reason=c.finish_reason, completion_tokens=c.completion_tokens, latency_s=12.0)
                 for j, c in enumerate(comps)] for comps in out]


def test_missing_opening_think_is_repaired_and_counted(tmp_path):
    stats = run_sampling(ITEMS, FakeGenerator(), ThinkClosingGenerator(), tmp_path, _cfg(), show_progress=False)
    rows = _lines(tmp_path / TRAJECTORIES_FILE)
    assert all(r["reasoning"].startswith("<think>") and r["reasoning"].count("<think>") == 1 for r in rows)
    repaired = [r for r in rows if r["think_repaired"]]
    assert stats.think_repaired == len(repaired) == sum(1 for r in rows if r["sample_index"] % 2 == 0) > 0
    assert all(r["reward"] == 1.0 for r in rows if r["caption_index"] == 0)  # the answer still verifies


def test_latency_is_per_sample_not_the_calls(tmp_path, monkeypatch):
    import time

    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])

    class SixSecondCalls(ThinkClosingGenerator):
        def generate(self, conversations, config):
            clock[0] += 6.0
            return super().generate(conversations, config)

    run_sampling(ITEMS, FakeGenerator(), SixSecondCalls(), tmp_path, _cfg(), show_progress=False)
    rows = _lines(tmp_path / TRAJECTORIES_FILE)
    assert all(r["call_latency_s"] == 12.0 for r in rows)  # what the backend reported for the call
    # each 6 s call generates 2 captions' x 3 samples: 1 s per record
    assert {r["latency_s"] for r in rows} == {1.0}


def test_repair_think_open_leaves_well_formed_and_tagless_text_alone():
    from sophia_eval.sophia.sampling import repair_think_open

    assert repair_think_open("<think>a</think>b") == ("<think>a</think>b", False)
    assert repair_think_open("plain \\boxed{1}") == ("plain \\boxed{1}", False)
    assert repair_think_open("a</think>b") == ("<think>\na</think>b", True)


def test_custom_prompts_reach_both_models_and_their_version_is_recorded(tmp_path):
    from sophia_eval.sophia.config import PromptConfig
    from sophia_eval.sophia.prompts import PROMPT_VERSION, prompt_version

    custom = PromptConfig(caption="List the shapes.", reasoning="Picture: {caption}\nQ: {question}\nA:")
    policy, reasoner = FakeGenerator(), FakeGenerator("reasoner")
    seen = []
    real = reasoner.generate
    reasoner.generate = lambda convs, config: (seen.extend(c[-1]["content"] for c in convs), real(convs, config))[1]
    run_sampling(ITEMS[:1], policy, reasoner, tmp_path, _cfg(), show_progress=False, prompts=custom)
    caps, trajs = _lines(tmp_path / CAPTIONS_FILE), _lines(tmp_path / TRAJECTORIES_FILE)
    assert seen[0].startswith("Picture: caption of /img/0.png #0\nQ: What is 0+1?")
    assert {r["prompt_version"] for r in caps + trajs} == {prompt_version(custom)} != {PROMPT_VERSION}
    with pytest.raises(RecordError, match="prompt_version"):  # the same folder under the built-in prompts
        run_sampling(ITEMS[:1], policy, reasoner, tmp_path, _cfg(), show_progress=False)
