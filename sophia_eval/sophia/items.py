"""Training-set loading: a JSONL of (image path(s), question, answer + answer metadata) -> `Sample`.

One object per line:

    {"id": "geo-17", "image": "imgs/17.png", "question": "...", "answer": "\\frac{3}{2}",
     "answer_type": "expression", "tolerance": 1e-6, "options": ["..", ".."], "unit": "m"}

`image` (one path) or `images` (a list) are resolved relative to the JSONL file's folder; a
text-only item has neither. `id` defaults to the 1-based line number. Answer metadata keys are the
`Sample` fields the verifier reads (`options`, `answer_type`, `tolerance`, `rel_tolerance`,
`precision`, `unit`, `multiple`, `extraction`); anything else unknown is rejected so a typo
cannot silently change how answers are checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sophia_eval.bench.sample import Sample
from sophia_eval.runs.jsonl import object_lines

_META_KEYS = ("answer_type", "rel_tolerance", "precision", "unit", "multiple", "extraction", "hint")
_KNOWN = {"id", "image", "images", "question", "answer", "options", "tolerance", "categories", *_META_KEYS}


class TrainingSetError(ValueError):
    """A training-set file or line does not match the documented JSONL format."""


def _item(obj: Any, path: Path, line_no: int, name: str) -> Sample:
    where = f"{path}:{line_no}"
    unknown = sorted(set(obj) - _KNOWN)
    if unknown:
        raise TrainingSetError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_KNOWN)}")
    for key in ("question", "answer"):
        if not isinstance(obj.get(key), (str, int, float)) or str(obj[key]).strip() == "":
            raise TrainingSetError(f"{where}: `{key}` must be a non-empty string")
    if "image" in obj and "images" in obj:
        raise TrainingSetError(f"{where}: give `image` or `images`, not both")
    images = obj.get("images", [obj["image"]] if "image" in obj else [])
    if isinstance(images, str) or not isinstance(images, list):
        raise TrainingSetError(f"{where}: `images` must be a list of paths")
    resolved = []
    for img in images:
        p = Path(img) if Path(img).is_absolute() else path.parent / img
        if not p.is_file():
            raise TrainingSetError(f"{where}: image {img!r} not found (looked at {p})")
        resolved.append(str(p))
    tol = obj.get("tolerance")
    if isinstance(tol, list):
        tol = tuple(float(t) for t in tol)
    return Sample(
        benchmark=name,
        id=str(obj.get("id", line_no)),
        question=str(obj["question"]),
        answer=str(obj["answer"]),
        images=tuple(resolved),
        options=tuple(str(o) for o in obj.get("options") or ()),
        tolerance=tol,
        categories=dict(obj.get("categories") or {}),
        source=where,
        **{k: obj[k] for k in _META_KEYS if k in obj},
    )


def load_training_items(path: str | Path, *, limit: int | None = None) -> list[Sample]:
    """Read a training-set JSONL into `Sample`s (ids must be unique)."""
    path = Path(path)
    if not path.is_file():
        raise TrainingSetError(f"{path}: training set not found; expected a JSONL file (see sophia_eval.sophia.items)")
    items: list[Sample] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line_no, obj in object_lines(fh, path, TrainingSetError):
            item = _item(obj, path, line_no, path.stem)
            if item.id in seen:
                raise TrainingSetError(f"{path}:{line_no}: duplicate id {item.id!r} (first on line {seen[item.id]})")
            seen[item.id] = line_no
            items.append(item)
            if limit is not None and len(items) >= limit:
                break
    if not items:
        raise TrainingSetError(f"{path}: no items; expected one JSON object per line")
    return items
