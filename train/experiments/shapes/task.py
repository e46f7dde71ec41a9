"""The shapes task: 64x64 pictures of 1-5 coloured shapes, integer questions needing perception
plus a little arithmetic. Deterministic (every draw comes from one seeded `random.Random`).

A scene is up to 5 objects, each a (colour, shape) in its own cell of a 3x3 grid. Question types
(`QTYPES`) range from direct reading (`total`, `count_color`) to types with headroom for
reasoning (`sides`, `difference`, `union`). Answers are balanced per type: each question first
draws its target answer uniformly from the type's answer range, then draws scenes until one
has that answer, so the majority answer of a type is only ~1/len(range) of its questions.

`write_split` renders a split into `<dir>/<split>.jsonl` + `<dir>/images/`: the JSONL is both a
SOPHIA training set (`sophia_eval.sophia.items`) and the benchmark data `benchmarks/shapes/`
loads. Every row also carries the ground-truth caption (`caption`), used by the warm-up data,
the reasoner's domain SFT and the off-policy distillation baseline (never shown to the policy
at evaluation).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

COLORS = ("red", "green", "blue")
SHAPES = ("circle", "square", "triangle")
SIDES = {"circle": 0, "square": 4, "triangle": 3}
RGB = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 80, 220)}
SIZE = 64
GRID = 3
MAX_OBJECTS = 5

# The seeds of the three disjoint uses of the generator (the experiment's default splits).
SPLIT_SEEDS = {"warmup": 1, "train": 2, "eval": 3}

Obj = tuple[str, str]  # (colour, shape)


@dataclass(frozen=True)
class Scene:
    objects: tuple[tuple[str, str, int], ...]
    """(colour, shape, grid cell 0..8) per object, in drawing order."""

    def count(self, color: str | None = None, shape: str | None = None) -> int:
        return sum(1 for c, s, _ in self.objects if (color is None or c == color) and (shape is None or s == shape))

    def groups(self) -> list[tuple[int, str, str]]:
        """(count, colour, shape) in the canonical order (colour, then shape order above)."""
        counts = Counter((c, s) for c, s, _ in self.objects)
        return [(counts[(c, s)], c, s) for c in COLORS for s in SHAPES if counts[(c, s)]]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def caption(scene: Scene) -> str:
    """The canonical ground-truth description (what the policy is warmed up to produce)."""
    parts = [plural(n, f"{c} {s}") for n, c, s in scene.groups()]
    return f"The picture shows {plural(len(scene.objects), 'shape')}: " + ", ".join(parts) + "."


@dataclass(frozen=True)
class QType:
    name: str
    answers: tuple[int, ...]
    """The answer range questions of this type are balanced over."""
    make: Callable[[random.Random], tuple[str, Callable[[Scene], int], dict]]
    """rng -> (question text, answer function, parameters)."""


def _total(rng):
    return "How many shapes are there in the picture?", lambda sc: len(sc.objects), {}


def _count_color(rng):
    c = rng.choice(COLORS)
    return f"How many {c} shapes are there?", lambda sc: sc.count(color=c), {"color": c}


def _count_shape(rng):
    s = rng.choice(SHAPES)
    return f"How many {s}s are there?", lambda sc: sc.count(shape=s), {"shape": s}


def _sides(rng):
    return ("What is the total number of sides of all the shapes? A circle has no sides, a triangle "
            "has 3 and a square has 4."), lambda sc: sum(SIDES[s] for _, s, _ in sc.objects), {}


def _difference(rng):
    a, b = rng.sample(COLORS, 2)
    return (f"What is the number of {a} shapes minus the number of {b} shapes?",
            lambda sc: sc.count(color=a) - sc.count(color=b), {"colors": [a, b]})


def _union(rng):
    c, s = rng.choice(COLORS), rng.choice(SHAPES)
    return (f"How many shapes are {c} or {s}s (or both)?",
            lambda sc: sum(1 for oc, os_, _ in sc.objects if oc == c or os_ == s), {"color": c, "shape": s})


QTYPES: dict[str, QType] = {q.name: q for q in (
    QType("total", (1, 2, 3, 4, 5), _total),
    QType("count_color", (0, 1, 2, 3), _count_color),
    QType("count_shape", (0, 1, 2, 3), _count_shape),
    QType("sides", (0, 3, 4, 6, 7, 8, 9, 10, 11, 12), _sides),
    QType("difference", (-3, -2, -1, 0, 1, 2, 3), _difference),
    QType("union", (0, 1, 2, 3, 4), _union),
)}


def random_scene(rng: random.Random) -> Scene:
    n = rng.randint(1, MAX_OBJECTS)
    cells = rng.sample(range(GRID * GRID), n)
    return Scene(tuple((rng.choice(COLORS), rng.choice(SHAPES), cell) for cell in cells))


def make_question(rng: random.Random, qtype: QType, *, max_tries: int = 10_000) -> tuple[Scene, str, int, dict]:
    """A (scene, question, answer, params) whose answer is a uniformly drawn value of the type's range."""
    target = rng.choice(qtype.answers)
    for _ in range(max_tries):
        text, fn, params = qtype.make(rng)
        scene = random_scene(rng)
        if fn(scene) == target:
            return scene, text, target, params
    raise RuntimeError(f"shapes: no scene with answer {target} for question type {qtype.name} "
                       f"in {max_tries} draws; the type's answer range is not reachable")


def render(scene: Scene):
    """The scene as a 64x64 RGB PIL image (white background, shapes ~16 px)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    cell = SIZE / GRID
    r = 8
    for color, shape, idx in scene.objects:
        cx, cy = (idx % GRID + 0.5) * cell, (idx // GRID + 0.5) * cell
        fill = RGB[color]
        if shape == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        elif shape == "square":
            draw.rectangle([cx - r + 1, cy - r + 1, cx + r - 1, cy + r - 1], fill=fill)
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r - 1), (cx + r, cy + r - 1)], fill=fill)
    return img


def generate(seed: int, n: int, qtypes: tuple[str, ...] | None = None) -> list[dict]:
    """`n` questions, the types in rotation, each answer balanced within its type."""
    names = qtypes or tuple(QTYPES)
    unknown = sorted(set(names) - set(QTYPES))
    if unknown:
        raise ValueError(f"shapes: unknown question type(s) {unknown}; known: {sorted(QTYPES)}")
    rng = random.Random(f"shapes:{seed}")
    rows = []
    for i in range(n):
        qtype = QTYPES[names[i % len(names)]]
        scene, text, answer, params = make_question(rng, qtype)
        rows.append({"id": f"s{seed}-{i:05d}", "question": text, "answer": str(answer), "qtype": qtype.name,
                     "params": params, "caption": caption(scene),
                     "objects": [list(o) for o in scene.objects]})
    return rows


def scene_of(row: dict) -> Scene:
    return Scene(tuple((c, s, int(i)) for c, s, i in row["objects"]))


def write_split(out_dir: str | Path, split: str, seed: int, n: int) -> Path:
    """Render `n` questions into `<out_dir>/<split>.jsonl` and `<out_dir>/images/<split>/`.

    Also writes `<split>.truth.jsonl` (generator rows: caption, objects, type). Idempotent: a
    split already written with the same (seed, n) is left alone (`<split>.meta.json` records
    them); anything else is rewritten."""
    out = Path(out_dir)
    meta_path = out / f"{split}.meta.json"
    meta = {"seed": seed, "n": n, "version": 1}
    target = out / f"{split}.jsonl"
    if target.exists() and meta_path.exists() and json.loads(meta_path.read_text()) == meta:
        return target
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    truth = out / f"{split}.truth.jsonl"
    with target.with_suffix(".tmp").open("w", encoding="utf-8") as items, \
            truth.with_suffix(".tmp").open("w", encoding="utf-8") as extra:
        for row in generate(seed, n):
            rel = f"images/{split}/{row['id']}.png"
            render(scene_of(row)).save(out / rel)
            # The item is the training-set / benchmark row; the truth (caption, objects) goes beside it.
            items.write(json.dumps({"id": row["id"], "image": rel, "question": row["question"], "answer": row["answer"],
                                    "answer_type": "numeric", "categories": {"qtype": row["qtype"]}}) + "\n")
            extra.write(json.dumps(row) + "\n")
    truth.with_suffix(".tmp").replace(truth)
    target.with_suffix(".tmp").replace(target)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    return target


def read_truth(out_dir: str | Path, split: str) -> list[dict]:
    """The generator rows of a written split (with `caption`, `objects`, `qtype`), in file order."""
    path = Path(out_dir) / f"{split}.truth.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def majority_baseline(rows: list[dict]) -> dict[str, float]:
    """Accuracy of answering each type's most frequent answer (the control every model must beat)."""
    by_type: dict[str, Counter] = {}
    for r in rows:
        by_type.setdefault(r["qtype"], Counter())[r["answer"]] += 1
    per = {t: c.most_common(1)[0][1] / sum(c.values()) for t, c in by_type.items()}
    per["overall"] = sum(c.most_common(1)[0][1] for c in by_type.values()) / len(rows)
    return per


def _listing(groups: list[tuple[int, str, str]]) -> str:
    items = [plural(n, f"{c} {s}") for n, c, s in groups]
    if not items:
        return "no shapes"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _sum_text(values: list[int]) -> str:
    return " + ".join(str(v) for v in values) + f" = {sum(values)}" if len(values) > 1 else str(sum(values))


def solution(row: dict, rng: random.Random) -> str:
    """A worked solution "as if seeing the image" that ends in \\boxed{} (the reasoner's SFT target).

    Wording and an optional re-check vary (seeded), so sampled trajectories differ in length and
    "shortest correct" has something to choose; every variant carries the reasoning, none is
    answer-only."""
    sc = scene_of(row)
    groups = sc.groups()
    p = row["params"]
    opener = rng.choice(["Looking at the figure, I see", "In the picture there are", "The figure shows"])
    lines = [f"{opener} {_listing(groups)}."]
    q = row["qtype"]
    if q == "total":
        lines.append(f"Counting every shape: {_sum_text([n for n, _, _ in groups])}.")
    elif q in ("count_color", "count_shape"):
        key = p.get("color") or p.get("shape")
        match = [g for g in groups if key in (g[1], g[2])]
        noun = f"{key} shapes" if q == "count_color" else f"{key}s"
        lines.append(f"The {noun}: {_listing(match)}, so {_sum_text([n for n, _, _ in match])}." if match
                     else f"There are no {noun} in the figure, so 0.")
    elif q == "sides":
        per = [(n, s) for n, _, s in groups]
        terms = [f"{n} x {SIDES[s]}" for n, s in per]
        lines.append("A circle has 0 sides, a triangle 3 and a square 4.")
        lines.append("Sides: " + " + ".join(terms) + f" = {sum(n * SIDES[s] for n, s in per)}.")
    elif q == "difference":
        a, b = p["colors"]
        na, nb = sc.count(color=a), sc.count(color=b)
        lines.append(f"{a.capitalize()} shapes: {na}. {b.capitalize()} shapes: {nb}. So {na} - {nb} = {na - nb}.")
    elif q == "union":
        c, s = p["color"], p["shape"]
        n_c = sc.count(color=c)
        other = [g for g in groups if g[2] == s and g[1] != c]
        n_o = sum(n for n, _, _ in other)
        lines.append(f"{c.capitalize()} shapes: {n_c}. {s.capitalize()}s that are not {c}: {n_o}. "
                     f"Together {n_c} + {n_o} = {n_c + n_o}.")
    if rng.random() < 0.5:
        lines.append("Looking back at the figure to check the count, it matches.")
    lines.append(f"The answer is \\boxed{{{row['answer']}}}.")
    return " ".join(lines)


def perturb_caption(row: dict, rng: random.Random) -> str:
    """The caption with one object's colour or shape changed (a plausible perception error)."""
    objs = [list(o) for o in row["objects"]]
    i = rng.randrange(len(objs))
    if rng.random() < 0.5:
        objs[i][0] = rng.choice([c for c in COLORS if c != objs[i][0]])
    else:
        objs[i][1] = rng.choice([s for s in SHAPES if s != objs[i][1]])
    return caption(Scene(tuple((c, s, int(k)) for c, s, k in objs)))
