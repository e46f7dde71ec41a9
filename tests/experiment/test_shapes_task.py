"""The shapes task generator and benchmark: deterministic, balanced, correct answers, loadable."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest

import shapes_path  # noqa: F401
from shapes import task


def _recount(row: dict) -> int:
    """The answer recomputed from the objects, independently of the generator's answer functions."""
    objs = row["objects"]
    p = row["params"]
    q = row["qtype"]
    if q == "total":
        return len(objs)
    if q == "count_color":
        return sum(o[0] == p["color"] for o in objs)
    if q == "count_shape":
        return sum(o[1] == p["shape"] for o in objs)
    if q == "sides":
        return sum({"circle": 0, "triangle": 3, "square": 4}[o[1]] for o in objs)
    if q == "difference":
        return sum(o[0] == p["colors"][0] for o in objs) - sum(o[0] == p["colors"][1] for o in objs)
    if q == "union":
        return sum(o[0] == p["color"] or o[1] == p["shape"] for o in objs)
    raise AssertionError(q)


def test_generation_is_deterministic_and_seeds_differ():
    assert task.generate(3, 50) == task.generate(3, 50)
    assert [r["objects"] for r in task.generate(1, 50)] != [r["objects"] for r in task.generate(3, 50)]
    assert task.generate(3, 20) == task.generate(3, 50)[:20]  # a prefix does not depend on n


def test_answers_match_the_scene_and_question():
    for row in task.generate(7, 600):
        assert int(row["answer"]) == _recount(row), row
        assert 1 <= len(row["objects"]) <= task.MAX_OBJECTS
        cells = [o[2] for o in row["objects"]]
        assert len(set(cells)) == len(cells)  # one object per cell


def test_answers_are_balanced_within_each_type():
    rows = task.generate(3, 3000)
    for name, qtype in task.QTYPES.items():
        counts = Counter(int(r["answer"]) for r in rows if r["qtype"] == name)
        assert set(counts) == set(qtype.answers), name
        expected = sum(counts.values()) / len(qtype.answers)
        assert max(counts.values()) < 1.5 * expected, (name, counts)
    assert task.majority_baseline(rows)["overall"] < 0.3


def test_caption_lists_every_object_once():
    for row in task.generate(5, 200):
        listed = Counter()
        for n, colour, shape in re.findall(r"(\d+) (red|green|blue) (circle|square|triangle)", row["caption"]):
            listed[(colour, shape)] += int(n)
        assert listed == Counter((o[0], o[1]) for o in row["objects"])


def test_solutions_reason_and_end_with_the_boxed_answer():
    rng = random.Random(0)
    for row in task.generate(9, 120):
        text = task.solution(row, rng)
        assert text.endswith(f"\\boxed{{{row['answer']}}}.")
        assert len(text) > 60 + len(row["answer"])  # never answer-only


def test_perturbed_caption_changes_exactly_one_object():
    rng = random.Random(1)
    for row in task.generate(4, 100):
        assert task.perturb_caption(row, rng) != row["caption"]


def test_render_is_64px_and_uses_the_colours():
    row = task.generate(3, 1)[0]
    img = task.render(task.scene_of(row))
    assert img.size == (64, 64)
    colours = {c for _, c in img.getcolors(4096)}
    assert {task.RGB[o[0]] for o in row["objects"]} <= colours


def test_written_split_loads_as_the_shapes_benchmark_and_as_a_training_set(tmp_path):
    from sophia_eval.bench import load_samples
    from sophia_eval.sophia.items import load_training_items

    root = tmp_path / "data"
    path = task.write_split(root / "shapes", "eval", task.SPLIT_SEEDS["eval"], 2000)
    mtime = path.stat().st_mtime_ns
    assert task.write_split(root / "shapes", "eval", task.SPLIT_SEEDS["eval"], 2000).stat().st_mtime_ns == mtime  # cached
    samples = load_samples("shapes:eval", data_dir=root)
    assert len(samples) == 2000
    first = samples[0]
    truth = task.read_truth(root / "shapes", "eval")[0]
    assert first.answer == truth["answer"] and first.categories == {"qtype": truth["qtype"]}
    assert first.answer_type == "numeric" and first.images[0].endswith(f"{truth['id']}.png")
    items = load_training_items(path)
    assert [s.id for s in items] == [s.id for s in samples]


def test_split_with_other_size_is_refused_by_the_benchmark(tmp_path):
    from sophia_eval.bench import DataError, load_samples

    task.write_split(tmp_path / "shapes", "eval", 3, 10)
    with pytest.raises(DataError, match="expects 2000"):
        load_samples("shapes:eval", data_dir=tmp_path)


def test_shuffled_control_keeps_questions_and_permutes_images(tmp_path):
    from shapes.run import write_shuffled

    task.write_split(tmp_path, "eval", 3, 40)
    write_shuffled(tmp_path, "eval", seed=0)
    a = [json.loads(x) for x in (tmp_path / "eval.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "eval_shuffled.jsonl").read_text().splitlines()]
    assert [r["question"] for r in a] == [r["question"] for r in b]
    assert sorted(r["image"] for r in a) == sorted(r["image"] for r in b)
    assert sum(x["image"] != y["image"] for x, y in zip(a, b)) > 30


def test_answer_only_trajectories_are_counted(tmp_path):
    from shapes.stages import count_answer_only

    rows = ["\\boxed{2}", "The answer is \\boxed{2}.", "I see 2 red circles and 1 square, so 2. \\boxed{2}"]
    path = tmp_path / "selected.jsonl"
    path.write_text("".join(json.dumps({"reasoning": r}) + "\n" for r in rows))
    assert count_answer_only(path) == 2
    assert count_answer_only(tmp_path / "missing.jsonl") == 0


def test_control_accuracy_reads_the_harness_correct_field(tmp_path):
    from shapes.report import _accuracy

    rows = [{"item_id": "a", "correct": True}, {"item_id": "b", "correct": False},
            {"item_id": "c", "correct": True}, {"item_id": "d", "correct": None}]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _accuracy(tmp_path) == 50.0
    assert _accuracy(tmp_path / "missing") is None
