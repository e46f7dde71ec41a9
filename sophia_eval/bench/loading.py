"""Load a benchmark split into typed `Sample`s: data root, layout choice, sha256 pins, field
mapping, named normalisations, image resolution. Nothing is skipped silently: a declared
exclusion or filter is counted in `LoadReport`, anything unexpected raises `DataError` naming the
file, the item and what was expected.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from sophia_eval.bench.formats import DataError, Record, dotted_get, read_hub, read_local
from sophia_eval.bench.normalizers import NORMALIZERS
from sophia_eval.bench.registry import get_benchmark
from sophia_eval.bench.spec import BenchmarkSpec, LocalSpec, PartSpec, SplitSpec
from sophia_eval.bench.sample import Sample
from sophia_eval.verify.kinds import KINDS

ENV_DATA_DIR = "SOPHIA_EVAL_DATA"

__all__ = ["DataError", "LoadReport", "resolve_data_dir", "load_samples", "load_split", "file_sha256"]


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Data root: the flag, else `$SOPHIA_EVAL_DATA`, else `../shared/data` relative to the
    current directory or to the source checkout. A missing root is an error saying how to set it."""
    if data_dir is not None:
        root, how = Path(data_dir), "--data-dir"
    elif os.environ.get(ENV_DATA_DIR):
        root, how = Path(os.environ[ENV_DATA_DIR]), f"${ENV_DATA_DIR}"
    else:
        checkout = Path(__file__).resolve().parents[2]
        candidates = [Path.cwd() / ".." / "shared" / "data", checkout / ".." / "shared" / "data"]
        for c in candidates:
            if c.is_dir():
                return c.resolve()
        raise DataError(
            "no benchmark data root: pass --data-dir DIR or set SOPHIA_EVAL_DATA=DIR (development "
            f"default ../shared/data not found at {', '.join(dict.fromkeys(str(c.resolve()) for c in candidates))})"
        )
    if not root.is_dir():
        raise DataError(f"data root {root} (from {how}) does not exist or is not a directory; "
                        "pass --data-dir DIR or set SOPHIA_EVAL_DATA=DIR to the folder holding the benchmark data")
    return root.resolve()


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file (cached per path, size and mtime within the process)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


@dataclass
class LoadReport:
    """What loading a split read, kept, excluded and from where (shown by `validate`)."""

    benchmark: str
    split: str
    records: int = 0
    filtered_out: int = 0
    excluded: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    """Local file -> sha256 actually read."""
    unpinned: list[str] = field(default_factory=list)
    metadata_only: bool = False
    hub: bool = False

    @property
    def data_hash(self) -> str:
        """One sha256 over the per-file hashes (empty string when read from the hub)."""
        if not self.files:
            return ""
        h = hashlib.sha256()
        for k in sorted(self.files):
            h.update(f"{Path(k).name}:{self.files[k]}\n".encode())
        return h.hexdigest()


def pick_layout(part: PartSpec, root: Path) -> LocalSpec | None:
    """First local layout whose files all exist under `root`; None when none is present."""
    for layout in part.local:
        if all((root / layout.dir / f.path).is_file() for f in layout.files):
            return layout
    return None


def split_available(spec: BenchmarkSpec, split: str | None, root: Path) -> str:
    """'local', 'metadata' (local but without images), or 'missing'."""
    s = spec.split(split)
    layouts = [pick_layout(p, root) for p in s.parts]
    if any(lay is None for lay in layouts):
        return "missing"
    return "metadata" if any(not lay.images for lay in layouts if lay) else "local"


def _matches(value: Any, allowed: tuple[Any, ...]) -> bool:
    for cond in allowed:
        if isinstance(cond, dict):  # {contains: s} / {not_contains: s}
            text = "" if value is None else str(value)
            if "contains" in cond and cond["contains"] in text:
                return True
            if "not_contains" in cond and cond["not_contains"] not in text:
                return True
        elif value == cond or (value is not None and str(value) == str(cond)):
            return True
    return False


def _iter_part(part: PartSpec, root: Path, report: LoadReport, *, allow_hub: bool) -> Iterator[tuple[str, Record, LocalSpec | None]]:
    layout = pick_layout(part, root)
    if layout is None and part.local:
        missing_any = [str(root / lay.dir / f.path) for lay in part.local for f in lay.files
                       if not (root / lay.dir / f.path).is_file()]
        if part.hub is None or not allow_hub:
            raise DataError(f"{report.benchmark}:{report.split}: data files not found under the data root {root}; "
                            f"expected {' or '.join(missing_any[:3])}" + (" (or network access to the hub source)" if part.hub else ""))
    if layout is None:
        if part.hub is None:
            raise DataError(f"{report.benchmark}:{report.split}: a part has neither local files nor a hub source")
        report.hub = True
        report.sources.append(f"hf://{part.hub.id}:{part.hub.split}")
        expected = [str(root / lay.dir / f.path) for lay in part.local for f in lay.files]
        try:
            for where, rec in read_hub(part.hub):
                yield where, rec, None
        except DataError as exc:
            if not expected:
                raise
            raise DataError(f"{exc}; or place the files at {' or '.join(expected[:2])}") from exc
        return
    if not layout.images:
        report.metadata_only = True
    base = root / layout.dir
    joined: dict[str, dict[str, Any]] = {}
    for j in layout.joins:
        jp = base / j.path
        if not jp.is_file():
            raise DataError(f"{jp}: join file missing; expected a JSON object keyed by {j.key!r}")
        _check_pin(jp, j.sha256, report)
        joined[j.into] = _json_object(jp)
    for f in layout.files:
        path = base / f.path
        _check_pin(path, f.sha256, report)
        report.sources.append(str(path))
        for where, rec in read_local(layout.format, path, layout.records):
            for j in layout.joins:
                key = str(dotted_get(rec, j.key))
                if key not in joined[j.into]:
                    raise DataError(f"{where}: no entry {key!r} in join file {base / j.path} (field {j.key!r})")
                rec = {**rec, j.into: joined[j.into][key]}
            yield where, rec, layout


def _json_object(path: Path) -> dict[str, Any]:
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object keyed by item id")
    return {str(k): v for k, v in data.items()}


def _check_pin(path: Path, sha: str | None, report: LoadReport) -> None:
    actual = file_sha256(path)
    report.files[str(path)] = actual
    if sha is None:
        report.unpinned.append(str(path))
    elif actual != sha:
        raise DataError(f"{path}: sha256 {actual} does not match the pinned {sha}; the file changed "
                        "(re-download it, or update the pin and the benchmark version together)")


def _contained_image(value: str, base: Path, root: Path, where: str, item: str) -> Path:
    """`base / value`, refusing absolute paths and any path that leaves the data root: an image
    path in a data file must never make us read (and send to a model server) another file."""
    rel = Path(value)
    if rel.is_absolute() or ".." in rel.parts:
        raise DataError(f"{where} (item {item}): image path {value!r} is absolute or contains '..'; "
                        "expected a path relative to the benchmark's image folder")
    path = base / rel
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise DataError(f"{where} (item {item}): image path {value!r} resolves outside the data root {root} "
                        "(a symbolic link?); expected a file inside it") from None
    return path


def _check_decodes(path: Path, where: str, item: str) -> None:
    """Refuse a file that is not an image (reads the header only: cheap for every load)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            pass
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{where} (item {item}): image file {path} is not a readable image ({exc})") from None


def _resolve_images(values: list[Any], where: str, item: str, layout: LocalSpec | None, root: Path,
                    require: bool = True) -> tuple[Any, ...]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict) and v.get("bytes"):  # parquet / HF Image struct {bytes, path}
            from PIL import Image

            try:
                img = Image.open(io.BytesIO(v["bytes"]))
                img.load()
            except Exception as exc:
                raise DataError(f"{where} (item {item}): embedded image {v.get('path')!r} is not a readable image ({exc})") from exc
            out.append(img)
        elif isinstance(v, str):
            if v.startswith(("http://", "https://")):
                if not require:  # validate lists web images; evaluation refuses them
                    out.append(v)
                    continue
                raise DataError(f"{where} (item {item}): image is a web URL {v!r}; expected a local file or embedded image")
            if layout is None:
                raise DataError(f"{where} (item {item}): image path {v!r} with no local layout to resolve it against")
            p = _contained_image(v, root / layout.dir / layout.image_root, root, where, item)
            if layout.images and not p.is_file():
                raise DataError(f"{where} (item {item}): image file {p} is missing; expected it under {p.parent}")
            if layout.images and require:
                _check_decodes(p, where, item)
            out.append(str(p))
        elif hasattr(v, "size") and hasattr(v, "mode"):  # a decoded PIL image from `datasets`
            out.append(v)
        else:
            raise DataError(f"{where} (item {item}): unsupported image value of type {type(v).__name__}; "
                            "expected a path, {bytes, path} or a PIL image")
    return tuple(out)


def _first(rec: Record, spec_col: str) -> Any:
    """Value at `a` or, for `a|b`, the first non-empty of a, b (else the last one's raw value)."""
    v: Any = None
    for alt in str(spec_col).split("|"):
        v = dotted_get(rec, alt)
        if v not in (None, "", [], {}):
            return v
    return v


def _image_values(spec_images: Any, rec: Record) -> list[Any]:
    cols = spec_images if isinstance(spec_images, list) else [spec_images]
    values: list[Any] = []
    for col in cols:
        v = _first(rec, col)
        if v not in (None, "", [], {}):
            values.extend(v if isinstance(v, list) else [v])
    return values


def _map_answer_type(spec: BenchmarkSpec, label: str, where: str, item: str) -> str | None:
    """Map a source label; 'A,B,...' (one label per sub-answer) maps to the common type when all
    sub-answers agree, else None (the verifier infers each sub-answer)."""
    labels = [x.strip() for x in label.split(",")] if label not in spec.answer_type_map else [label]
    unknown = [x for x in labels if x not in spec.answer_type_map]
    if unknown:
        raise DataError(f"{where} (item {item}): answer type label {unknown[0]!r} is not in the spec's "
                        f"answer_type_map {sorted(spec.answer_type_map)}")
    mapped = {spec.answer_type_map[x] for x in labels}
    return mapped.pop() if len(mapped) == 1 else None


def _build(spec: BenchmarkSpec, split: SplitSpec, part: PartSpec, where: str, rec: Record,
           layout: LocalSpec | None, root: Path, answer_types: tuple[str, ...], require_images: bool) -> Sample | str:
    fields = {**spec.fields, **split.fields}
    rec = {**rec, "_part": dict(part.categories)}
    d: dict[str, Any] = {"_where": where}
    for fname, col in fields.items():
        if fname == "images" or col is None:
            continue
        if fname == "id" and isinstance(col, list):
            parts = [_first(rec, c) for c in col]
            d["id"] = None if any(p is None for p in parts) else "_".join(str(p) for p in parts)
        else:
            d[fname] = _first(rec, str(col))
    for k, v in spec.constants.items():
        if d.get(k) is None:
            d[k] = v
    if d.get("id") is None:
        raise DataError(f"{where}: field {fields['id']!r} (Sample.id) is missing; expected it in every record")
    d["id"] = str(d["id"])
    if d["id"] in spec.exclude or d["id"] in split.exclude:
        return d["id"]
    for fname in ("question", "answer"):
        if d.get(fname) is None:
            raise DataError(f"{where} (item {d['id']}): field {fields[fname]!r} (Sample.{fname}) is missing; expected it in every record")
    if d.get("context"):
        d["question"] = f"{str(d['context']).strip()}\n\n{d['question']}"
    d["images"] = _image_values(fields["images"], rec) if fields.get("images") else []
    if spec.answer_type_map and d.get("answer_type") is not None:
        d["answer_type"] = _map_answer_type(spec, str(d["answer_type"]), where, d["id"])
    cats = {k: _first(rec, path) for k, path in spec.categories.items()}
    cats.update(part.categories)
    d["categories"] = cats
    for name in spec.normalize:
        NORMALIZERS[name](d)
    if d.get("answer_type") is not None and d["answer_type"] not in answer_types:
        raise DataError(f"{where} (item {d['id']}): answer type {d['answer_type']!r} is not a verifier type {list(answer_types)}")
    answer = d["answer"]
    if isinstance(answer, (list, tuple)):
        raise DataError(f"{where} (item {d['id']}): gold is a list {answer!r}; the spec needs join_answer_list or first_of_alternatives")
    if not str(answer).strip():
        raise DataError(f"{where} (item {d['id']}): empty gold answer; expected a gold answer (declare the item under `exclude` with a reason if upstream has none)")
    images = _resolve_images(list(d.get("images") or []), where, d["id"], layout, root, require_images)
    try:
        tol = d.get("tolerance")
        tol = tuple(float(t) for t in tol) if isinstance(tol, (list, tuple)) else (None if tol is None else float(tol))
        rel = None if d.get("rel_tolerance") is None else float(d["rel_tolerance"])
        prec = None if d.get("precision") is None else int(float(d["precision"]))
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where} (item {d['id']}): tolerance/precision must be numbers ({exc}); "
                        "add the normalisation that parses this source's convention (e.g. olympiad_tolerance)") from exc
    multiple = d.get("multiple")
    if isinstance(multiple, str):  # never bool('False')
        if multiple.strip() not in ("True", "False", "true", "false", ""):
            raise DataError(f"{where} (item {d['id']}): `multiple` is {multiple!r}; expected a boolean")
        multiple = multiple.strip().lower() == "true"
    return Sample(
        benchmark=spec.name,
        id=d["id"],
        question=str(d["question"]),
        answer=str(answer),
        images=images,
        options=tuple(str(o) for o in (d.get("options") or ())),
        answer_type=d.get("answer_type"),
        tolerance=tol,
        rel_tolerance=rel,
        precision=prec,
        unit=(str(d["unit"]) if d.get("unit") not in (None, "") else None),
        multiple=bool(multiple),
        hint=(str(d["hint"]) if d.get("hint") else None),
        extraction=spec.extraction,
        categories={k: (", ".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in d["categories"].items() if v is not None},
        source=where,
    )


def load_split(spec: BenchmarkSpec, split: str | None = None, *, data_dir: str | os.PathLike[str] | None = None,
               limit: int | None = None, require_images: bool = True, allow_hub: bool = True,
               check_count: bool = True) -> tuple[list[Sample], LoadReport]:
    """Load one split and report what was read. `require_images=False` accepts a metadata-only
    layout (used by `validate` to check golds); evaluation must keep it True."""
    s: SplitSpec = spec.split(split)
    root = resolve_data_dir(data_dir)
    report = LoadReport(spec.name, s.name)
    answer_types = tuple(KINDS)  # the kinds table as it is now (a kind added to it is accepted)
    samples: list[Sample] = []
    seen: dict[str, str] = {}
    for part in s.parts:
        for where, rec, layout in _iter_part(part, root, report, allow_hub=allow_hub):
            if layout is not None and not layout.images and require_images:
                raise DataError(f"{spec.name}:{s.name}: the local copy {root / layout.dir} is metadata only (no images); "
                                "evaluation needs the images: place the full release or HF snapshot under the data root")
            report.records += 1
            if not all(_matches(dotted_get(rec, k), v) for k, v in s.where.items()):
                report.filtered_out += 1
                continue
            out = _build(spec, s, part, where, rec, layout, root, answer_types, require_images)
            if isinstance(out, str):
                report.excluded[out] = s.exclude.get(out) or spec.exclude[out]
                continue
            if out.id in seen:
                raise DataError(f"{where}: duplicate item id {out.id!r} (first at {seen[out.id]}); ids must be unique in a split")
            seen[out.id] = where
            samples.append(out)
            if limit is not None and len(samples) >= limit:
                return samples, report
    if check_count and s.n_items is not None and len(samples) != s.n_items:
        raise DataError(f"{spec.name}:{s.name}: loaded {len(samples)} items from {', '.join(report.sources)} but the spec "
                        f"expects {s.n_items} (records read {report.records}, filtered {report.filtered_out}, "
                        f"excluded {len(report.excluded)})")
    return samples, report


def load_samples(name: str, *, split: str | None = None, data_dir: str | os.PathLike[str] | None = None,
                 limit: int | None = None) -> list[Sample]:
    """Samples of `name` (or `name:split`) from the data root, hub as fallback."""
    base, _, ref_split = name.partition(":")
    spec = get_benchmark(base)
    samples, _ = load_split(spec, split or ref_split or None, data_dir=data_dir, limit=limit)
    return samples
