"""Benchmark registry: the closed `benchmark.yaml` schema and discovery of bundled specs.

One folder per benchmark (`benchmarks/<name>/benchmark.yaml` + `README.md`). The schema is closed:
an unknown key is an error naming the file and the key, because a misspelt key that is silently
ignored changes what gets evaluated. There is no code escape hatch: behaviour is chosen by name
from the library (loader formats, normalisations, extraction policies, prompt templates, metrics).

Specs are found in `<checkout>/benchmarks` for a source or editable checkout, else in the wheel's
`sophia_eval/_bundled/benchmarks`; `SOPHIA_EVAL_BENCHMARKS` (os.pathsep-separated) adds folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

METRICS: tuple[str, ...] = ("accuracy", "dynamath", "wemath")
JUDGE_MODES: tuple[str, ...] = ("none", "optional", "required")
EXTRACTION_POLICIES: tuple[str, ...] = ("default", "choice", "last_number", "lenient")
LOCAL_FORMATS: tuple[str, ...] = ("jsonl", "json", "parquet")
SAMPLE_FIELDS: tuple[str, ...] = (
    "id", "question", "answer", "options", "images", "answer_type", "tolerance", "rel_tolerance",
    "precision", "unit", "multiple", "hint",
)
# `context` is not a Sample field: a shared problem setup (OlympiadBench physics) put before the question.
FIELD_KEYS: tuple[str, ...] = SAMPLE_FIELDS + ("context",)
SPEC_FILE = "benchmark.yaml"
ENV_EXTRA_DIRS = "SOPHIA_EVAL_BENCHMARKS"


class SpecError(ValueError):
    """A benchmark spec is invalid; the message names the file, the key and what was expected."""


@dataclass(frozen=True)
class FileSpec:
    """One local data file, pinned by sha256 when the file is known."""

    path: str
    """Path relative to the layout's `dir` under the data root."""
    sha256: str | None = None
    """Expected sha256 (hex); None when it cannot be pinned here (data not available offline)."""


@dataclass(frozen=True)
class JoinSpec:
    """A side file (JSON object keyed by item id) whose values are joined onto each record."""

    path: str
    """Path relative to the layout's `dir`."""
    key: str
    """Record field whose value is the key into the side file."""
    into: str
    """Record field that receives the joined value."""
    sha256: str | None = None
    """Expected sha256 of the side file."""


@dataclass(frozen=True)
class LocalSpec:
    """Where a part's records live under the data root, and in which file format."""

    dir: str
    """Folder under the data root."""
    format: str
    """Loader format: jsonl | json | parquet."""
    files: tuple[FileSpec, ...]
    """Files read in order; records are concatenated."""
    records: str | None = None
    """For json: dotted key path to the record list or id->record object (None = top level)."""
    image_root: str = "."
    """Folder (relative to `dir`) that string image paths are relative to."""
    joins: tuple[JoinSpec, ...] = ()
    """Side files joined onto records (e.g. MathVista `query.json`)."""
    images: bool = True
    """False for a metadata-only mirror that carries no images; loading it for evaluation is refused."""


@dataclass(frozen=True)
class HubSpec:
    """The real-world Hugging Face source: `datasets.load_dataset(id, config, split=..., revision=...)`."""

    id: str
    """Dataset id on the hub."""
    split: str
    """Hub split name."""
    config: str | None = None
    """Hub config (subset) name."""
    revision: str | None = None
    """Commit sha or tag to pin; None means the default branch (not reproducible, avoid)."""


@dataclass(frozen=True)
class PartSpec:
    """One slice of a split (a file, a hub config or a hub split), with constant categories."""

    local: tuple[LocalSpec, ...]
    """Local layouts, tried in order (first whose files exist wins); empty when hub-only."""
    hub: HubSpec | None
    """Hub source, or None when the data comes from the authors' release files only."""
    categories: Mapping[str, str] = field(default_factory=dict)
    """Constant category values for every item of this part (e.g. `variant: "3"`)."""


@dataclass(frozen=True)
class SplitSpec:
    """A named split: its parts, filters and expected item count."""

    name: str
    """lower_snake_case split name."""
    parts: tuple[PartSpec, ...]
    """Slices concatenated in order."""
    n_items: int | None
    """Expected number of samples after filters; None only when no copy could be counted here."""
    where: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    """Keep a record only if each named record field has one of the listed values."""
    description: str = ""
    """One line on what the split is."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of the benchmark's field mapping for this split (e.g. a vision-only setting)."""
    exclude: Mapping[str, str] = field(default_factory=dict)
    """Item id -> reason, for this split only (ids that name another item in other splits)."""


@dataclass(frozen=True)
class BenchmarkSpec:
    """A validated `benchmark.yaml`."""

    name: str
    title: str
    description: str
    version: str
    """Spec version; bump it (and the README changelog) whenever loading or scoring changes."""
    license: str
    homepage: str
    splits: Mapping[str, SplitSpec]
    default_split: str
    metric: str
    """accuracy | dynamath | wemath."""
    breakdown: tuple[str, ...]
    """Category field names reported separately."""
    extraction: str
    """Extraction policy name for the verifier (default | choice | last_number | lenient)."""
    prompt_template: str
    """Name in `sophia_eval.prompts.TEMPLATES`."""
    judge: str
    """none | optional | required: whether an LLM judge is part of the official protocol."""
    fields: Mapping[str, Any]
    """Sample field -> record field: a dotted path, `a|b` for the first present of a and b, or a
    list (images: every listed column; id: values joined with '_')."""
    categories: Mapping[str, str]
    """Category name -> record field (dotted path)."""
    constants: Mapping[str, Any]
    """Sample field -> constant value, applied when the record gives none."""
    answer_type_map: Mapping[str, str | None]
    """Source answer-type label -> verifier answer type (None = let the verifier infer)."""
    normalize: tuple[str, ...]
    """Named normalisations (`sophia_eval.loaders.normalize.NORMALIZERS`), applied in order."""
    exclude: Mapping[str, str]
    """Item id -> reason; declared exclusions are reported by `validate`, never silent."""
    paper: str = ""
    path: Path | None = None
    """Folder the spec was read from."""

    def split(self, name: str | None = None) -> SplitSpec:
        """The named split (default split when None); unknown names raise listing the known ones."""
        key = name or self.default_split
        if key not in self.splits:
            raise KeyError(
                f"benchmark {self.name!r} has no split {key!r}; known splits: {', '.join(self.splits)}"
            )
        return self.splits[key]


# --- parsing ------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, file: Path) -> None:
        self.file = file

    def err(self, where: str, msg: str) -> SpecError:
        return SpecError(f"{self.file}: {where}: {msg}")

    def mapping(self, obj: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise self.err(where, f"expected a mapping with keys {sorted(required | optional)}, got {type(obj).__name__}")
        unknown = set(obj) - required - optional
        if unknown:
            raise self.err(where, f"unknown key(s) {sorted(unknown)}; allowed keys: {sorted(required | optional)}")
        missing = required - set(obj)
        if missing:
            raise self.err(where, f"missing required key(s) {sorted(missing)}")
        return obj

    def string(self, obj: Any, where: str, *, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(obj, str) or not obj:
            raise self.err(where, f"expected a non-empty string, got {obj!r}")
        if choices is not None and obj not in choices:
            raise self.err(where, f"{obj!r} is not one of {list(choices)}")
        return obj

    def opt_string(self, obj: Any, where: str) -> str | None:
        return None if obj is None else self.string(obj, where)


def _sha(ctx: _Ctx, value: Any, where: str) -> str | None:
    if value is None:
        return None
    s = ctx.string(value, where).lower()
    if len(s) != 64 or any(c not in "0123456789abcdef" for c in s):
        raise ctx.err(where, f"expected a 64-digit hex sha256, got {value!r}")
    return s


def _parse_local(ctx: _Ctx, obj: Any, where: str) -> LocalSpec:
    m = ctx.mapping(obj, where, {"dir", "format", "files"}, {"records", "image_root", "joins", "images"})
    files_raw = m["files"]
    if not isinstance(files_raw, list) or not files_raw:
        raise ctx.err(f"{where}.files", "expected a non-empty list of {path, sha256}")
    files = []
    for i, f in enumerate(files_raw):
        fm = ctx.mapping(f, f"{where}.files[{i}]", {"path"}, {"sha256"})
        files.append(FileSpec(ctx.string(fm["path"], f"{where}.files[{i}].path"),
                              _sha(ctx, fm.get("sha256"), f"{where}.files[{i}].sha256")))
    joins = []
    for i, j in enumerate(m.get("joins") or []):
        jm = ctx.mapping(j, f"{where}.joins[{i}]", {"path", "key", "into"}, {"sha256"})
        joins.append(JoinSpec(jm["path"], jm["key"], jm["into"], _sha(ctx, jm.get("sha256"), f"{where}.joins[{i}].sha256")))
    images = m.get("images", True)
    if not isinstance(images, bool):
        raise ctx.err(f"{where}.images", f"expected true or false, got {images!r}")
    return LocalSpec(
        dir=ctx.string(m["dir"], f"{where}.dir"),
        format=ctx.string(m["format"], f"{where}.format", choices=LOCAL_FORMATS),
        files=tuple(files),
        records=ctx.opt_string(m.get("records"), f"{where}.records"),
        image_root=ctx.string(m.get("image_root", "."), f"{where}.image_root"),
        joins=tuple(joins),
        images=images,
    )


def _parse_locals(ctx: _Ctx, obj: Any, where: str) -> tuple[LocalSpec, ...]:
    if obj is None:
        return ()
    if isinstance(obj, list):  # alternative layouts, e.g. the HF snapshot and the authors' release
        return tuple(_parse_local(ctx, o, f"{where}[{i}]") for i, o in enumerate(obj))
    return (_parse_local(ctx, obj, where),)


def _parse_hub(ctx: _Ctx, obj: Any, where: str) -> HubSpec:
    m = ctx.mapping(obj, where, {"id", "split"}, {"config", "revision"})
    return HubSpec(ctx.string(m["id"], f"{where}.id"), ctx.string(m["split"], f"{where}.split"),
                   ctx.opt_string(m.get("config"), f"{where}.config"),
                   ctx.opt_string(m.get("revision"), f"{where}.revision"))


def _str_map(ctx: _Ctx, obj: Any, where: str) -> dict[str, str]:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ctx.err(where, f"expected a mapping of names to strings, got {type(obj).__name__}")
    return {str(k): str(v) for k, v in obj.items()}


def _parse_part(ctx: _Ctx, obj: Any, where: str) -> PartSpec:
    m = ctx.mapping(obj, where, set(), {"local", "hub", "categories"})
    if "local" not in m and "hub" not in m:
        raise ctx.err(where, "a part needs `local` (files under the data root) and/or `hub` (HF dataset)")
    return PartSpec(
        local=_parse_locals(ctx, m.get("local"), f"{where}.local"),
        hub=_parse_hub(ctx, m["hub"], f"{where}.hub") if "hub" in m else None,
        categories=_str_map(ctx, m.get("categories"), f"{where}.categories"),
    )


def _parse_split(ctx: _Ctx, name: str, obj: Any) -> SplitSpec:
    where = f"splits.{name}"
    if name != name.lower() or not name.replace("_", "").isalnum():
        raise ctx.err(where, "split names must be lower_snake_case (letters, digits, underscores)")
    m = ctx.mapping(obj, where, {"n_items"}, {"local", "hub", "categories", "parts", "where", "description", "fields", "exclude"})
    if "parts" in m:
        if {"local", "hub", "categories"} & set(m):
            raise ctx.err(where, "use either `parts` or a single `local`/`hub`/`categories`, not both")
        if not isinstance(m["parts"], list) or not m["parts"]:
            raise ctx.err(f"{where}.parts", "expected a non-empty list of parts")
        parts = tuple(_parse_part(ctx, p, f"{where}.parts[{i}]") for i, p in enumerate(m["parts"]))
    else:
        parts = (_parse_part(ctx, {k: m[k] for k in ("local", "hub", "categories") if k in m}, where),)
    n = m["n_items"]
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ctx.err(f"{where}.n_items", f"expected a positive integer (or null when uncountable here), got {n!r}")
    where_raw = m.get("where") or {}
    if not isinstance(where_raw, dict):
        raise ctx.err(f"{where}.where", "expected a mapping field -> value or list of values")
    filters = {str(k): tuple(v) if isinstance(v, list) else (v,) for k, v in where_raw.items()}
    fields = ctx.mapping(m.get("fields") or {}, f"{where}.fields", set(), set(FIELD_KEYS))
    exclude = m.get("exclude") or {}
    if not isinstance(exclude, dict):
        raise ctx.err(f"{where}.exclude", "expected a mapping item id -> reason")
    return SplitSpec(name, parts, n, filters, str(m.get("description") or ""), dict(fields),
                     {str(k): str(v) for k, v in exclude.items()})


_TOP_REQUIRED = {"name", "title", "description", "version", "license", "homepage", "metric",
                 "extraction", "prompt_template", "judge", "default_split", "splits", "fields"}
_TOP_OPTIONAL = {"paper", "breakdown", "categories", "constants", "answer_type_map", "normalize", "exclude"}


def parse_spec(data: Any, file: Path) -> BenchmarkSpec:
    """Validate a parsed `benchmark.yaml` mapping; `file` is used in error messages."""
    from sophia_eval.loaders.normalize import NORMALIZERS
    from sophia_eval.prompts import TEMPLATES

    ctx = _Ctx(file)
    m = ctx.mapping(data, "top level", _TOP_REQUIRED, _TOP_OPTIONAL)
    name = ctx.string(m["name"], "name")
    if file.parent.name != name and file.name == SPEC_FILE:
        raise ctx.err("name", f"{name!r} must equal the folder name {file.parent.name!r}")
    if not isinstance(m["splits"], dict) or not m["splits"]:
        raise ctx.err("splits", "expected a non-empty mapping of split name -> split")
    splits = {str(k): _parse_split(ctx, str(k), v) for k, v in m["splits"].items()}
    default_split = ctx.string(m["default_split"], "default_split", choices=tuple(splits))
    fields_m = ctx.mapping(m["fields"], "fields", {"id", "question", "answer"}, set(FIELD_KEYS))
    constants = m.get("constants") or {}
    if not isinstance(constants, dict) or set(constants) - set(SAMPLE_FIELDS):
        raise ctx.err("constants", f"expected a mapping whose keys are Sample fields {list(SAMPLE_FIELDS)}")
    normalize = m.get("normalize") or []
    for i, n in enumerate(normalize):
        if n not in NORMALIZERS:
            raise ctx.err(f"normalize[{i}]", f"unknown normalisation {n!r}; known: {sorted(NORMALIZERS)}")
    template = ctx.string(m["prompt_template"], "prompt_template")
    if template not in TEMPLATES:
        raise ctx.err("prompt_template", f"unknown template {template!r}; known: {sorted(TEMPLATES)}")
    breakdown = m.get("breakdown") or []
    if not isinstance(breakdown, list):
        raise ctx.err("breakdown", "expected a list of category names")
    exclude = m.get("exclude") or {}
    if not isinstance(exclude, dict):
        raise ctx.err("exclude", "expected a mapping item id -> reason")
    atm = m.get("answer_type_map") or {}
    if not isinstance(atm, dict):
        raise ctx.err("answer_type_map", "expected a mapping source label -> verifier answer type")
    return BenchmarkSpec(
        name=name,
        title=ctx.string(m["title"], "title"),
        description=ctx.string(m["description"], "description"),
        version=str(m["version"]),
        license=ctx.string(m["license"], "license"),
        homepage=ctx.string(m["homepage"], "homepage"),
        paper=str(m.get("paper") or ""),
        splits=splits,
        default_split=default_split,
        metric=ctx.string(m["metric"], "metric", choices=METRICS),
        breakdown=tuple(str(b) for b in breakdown),
        extraction=ctx.string(m["extraction"], "extraction", choices=EXTRACTION_POLICIES),
        prompt_template=template,
        judge=ctx.string(m["judge"], "judge", choices=JUDGE_MODES),
        fields=dict(fields_m),
        categories=_str_map(ctx, m.get("categories"), "categories"),
        constants=dict(constants),
        answer_type_map={str(k): (None if v is None else str(v)) for k, v in atm.items()},
        normalize=tuple(normalize),
        exclude={str(k): str(v) for k, v in exclude.items()},
        path=file.parent,
    )


def load_spec(file: Path) -> BenchmarkSpec:
    """Read and validate one `benchmark.yaml`."""
    import yaml

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{file}: not valid YAML: {exc}") from exc
    return parse_spec(data, file)


# --- discovery ----------------------------------------------------------------------------


def spec_dirs() -> list[Path]:
    """Folders searched for benchmark specs, in priority order (first match of a name wins)."""
    here = Path(__file__).resolve().parent
    dirs: list[Path] = []
    for extra in os.environ.get(ENV_EXTRA_DIRS, "").split(os.pathsep):
        if extra:
            dirs.append(Path(extra))
    checkout = here.parent / "benchmarks"
    if checkout.is_dir() and (here.parent / "pyproject.toml").is_file():
        dirs.append(checkout)  # source or editable checkout
    bundled = here / "_bundled" / "benchmarks"
    if bundled.is_dir():
        dirs.append(bundled)  # installed wheel
    return dirs


def _discover() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in spec_dirs():
        for f in sorted(d.glob(f"*/{SPEC_FILE}")):
            found.setdefault(f.parent.name, f)
    return found


def list_benchmarks() -> list[BenchmarkSpec]:
    """Every discoverable benchmark spec, sorted by name (an invalid spec raises)."""
    return [load_spec(f) for _, f in sorted(_discover().items())]


def get_benchmark(name: str) -> BenchmarkSpec:
    """The spec called `name` (`name:split` is accepted; the split part is ignored here)."""
    base = name.split(":", 1)[0]
    found = _discover()
    if base not in found:
        known = ", ".join(sorted(found)) or "(none found; searched " + ", ".join(map(str, spec_dirs())) + ")"
        raise KeyError(f"unknown benchmark {base!r}; known benchmarks: {known}")
    return load_spec(found[base])


def parse_ref(ref: str) -> tuple[str, str | None]:
    """Split a CLI benchmark reference `name` or `name:split`."""
    name, _, split = ref.partition(":")
    return name, (split or None)
