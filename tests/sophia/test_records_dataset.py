"""Append-only records (torn lines, corruption) and the selection -> training-example path, mixing."""

import json

import pytest

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import MixConfig, SelectionConfig
from sophia_eval.sophia.dataset import TrainExample, load_mix_file, mix_examples
from sophia_eval.sophia.pipeline import run_selection, train_examples
from sophia_eval.sophia.config import TrainConfig
from sophia_eval.runs.jsonl import JsonlLog, RecordError
from sophia_eval.sophia.sampling import TRAJECTORIES_FILE


def test_torn_last_line_is_ignored_and_overwritten(tmp_path):
    log = JsonlLog(tmp_path / "r.jsonl")
    log.append([{"a": 1}])
    with open(log.path, "a") as fh:
        fh.write('{"a": 2, "b"')
    log.append([{"a": 3}])
    assert list(log.read()) == [{"a": 1}, {"a": 3}]


def test_complete_last_line_without_newline_is_kept(tmp_path):
    log = JsonlLog(tmp_path / "r.jsonl")
    log.path.write_text('{"a": 1}')
    log.append([{"a": 2}])
    assert list(log.read()) == [{"a": 1}, {"a": 2}]


def test_corrupt_middle_line_raises_with_file_and_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 3}\n')
    with pytest.raises(RecordError, match=r"r\.jsonl:2"):
        list(JsonlLog(path).read())


ITEMS = [Sample(benchmark="t", id=f"q{i}", question=f"What is {i}+1?", answer=str(i + 1), images=("/x.png",))
         for i in range(2)]


def _sampling_dir(tmp_path):
    rows = [{"item_id": "q0", "caption_index": 0, "sample_index": n, "reward": 1.0, "completion_tokens": 5 + n,
             "reasoning": f"<think>t{n}</think> \\boxed{{1}}", "caption": "c"} for n in range(4)]
    rows += [{"item_id": "q1", "caption_index": 0, "sample_index": 0, "reward": 0.0, "completion_tokens": 3,
              "reasoning": "\\boxed{9}", "caption": "c"}]
    d = tmp_path / "sampling"
    JsonlLog(d / TRAJECTORIES_FILE).append(rows)
    return d


def test_selected_records_carry_the_item_and_become_original_question_examples(tmp_path):
    run_selection(_sampling_dir(tmp_path), ITEMS, tmp_path / "sel", SelectionConfig())
    [ex] = train_examples(tmp_path / "sel", TrainConfig(model="m"))
    assert (ex.id, ex.messages[0]["role"], ex.messages[-1]["content"]) == (
        "q0/0/0", "system", "<think>t0</think> \\boxed{1}")


def test_selection_summary_is_written(tmp_path):
    run_selection(_sampling_dir(tmp_path), ITEMS, tmp_path / "sel", SelectionConfig())
    summary = json.loads((tmp_path / "sel" / "summary.json").read_text())
    assert (summary["n_items"], summary["n_items_kept"], summary["n_selected"]) == (2, 1, 1)


def _mix_file(tmp_path, n):
    path = tmp_path / "text.jsonl"
    path.write_text("".join(json.dumps({"question": f"q{i}", "response": f"r{i}"}) + "\n" for i in range(n)))
    return path


def test_mix_adds_ratio_times_sophia_examples_without_replacement(tmp_path):
    sophia = [TrainExample(id=str(i), messages=()) for i in range(4)]
    out = mix_examples(sophia, MixConfig(text_path=str(_mix_file(tmp_path, 10)), text_ratio=0.5), seed=1)
    extra = [e for e in out if e.source == "text"]
    assert (len(out), len(extra), len({e.id for e in extra})) == (6, 2, 2)


def test_mix_is_capped_at_the_file_size(tmp_path):
    sophia = [TrainExample(id=str(i), messages=()) for i in range(4)]
    out = mix_examples(sophia, MixConfig(text_path=str(_mix_file(tmp_path, 3)), text_ratio=2.0))
    assert len(out) == 7


def test_vqa_mix_line_without_images_is_rejected_with_its_line(tmp_path):
    with pytest.raises(ValueError, match=r"text\.jsonl:1: a general VQA example needs `images`"):
        load_mix_file(_mix_file(tmp_path, 1), "vqa")


def test_mix_ratio_without_path_names_the_fix():
    with pytest.raises(ValueError, match="give the JSONL path"):
        MixConfig(vqa_ratio=0.5)


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n\n')
    assert list(JsonlLog(path).read()) == [{"a": 1}, {"a": 2}]


def test_append_reads_only_the_tail_of_a_large_file(tmp_path):
    log = JsonlLog(tmp_path / "r.jsonl")
    log.append({"i": i, "pad": "x" * 1000} for i in range(200))  # ~200 KB, several tail blocks
    with open(log.path, "a") as fh:
        fh.write('{"i": 200, "pa')
    log.append([{"i": 201}])
    assert [r["i"] for r in log.read()][-3:] == [198, 199, 201]
