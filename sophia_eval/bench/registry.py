"""Benchmark registry: the closed `benchmark.yaml` schema and discovery of bundled specs.

One folder per benchmark (`benchmarks/<name>/benchmark.yaml` + `README.md`). The schema is closed:
an unknown key is an error naming the file and the key, because a misspelt key that is silently
ignored changes what gets evaluated. There is no code escape hatch: behaviour is chosen by name
from the library (loader formats, normalisations, extraction policies, prompt templates, metrics).

Specs are found in `<checkout>/benchmarks` for a source or editable checkout, else in the wheel's
`sophia_eval/_bundled/benchmarks`; `SOPHIA_EVAL_BENCHMARKS` (os.pathsep-separated) adds folders.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from sophia_eval.bench.normalizers import NORMALIZERS
from sophia_eval.bench.prompts import TEMPLATES
from sophia_eval.bench.spec import (
    FIELD_KEYS, JUDGE_MODES, LOCAL_FORMATS, METRICS, SAMPLE_FIELDS, BenchmarkSpec, FileSpec, HubSpec, JoinSpec,
    LocalSpec, PartSpec, SpecError, SplitSpec,
)
from sophia_eval.verify.vocab import EXTRACTION_POLICIES

SPEC_FILE = "benchmark.yaml"
ENV_EXTRA_DIRS = "SOPHIA_EVAL_BENCHMARKS"


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
    """Read and validate one `benchmark.yaml`, once per process while the file is unchanged (the
    harness, the loader and the leaderboard all ask for the same spec; specs are frozen)."""
    file = Path(file)
    try:
        stat = file.stat()
    except OSError as exc:
        raise SpecError(f"{file}: cannot read the benchmark spec ({exc.strerror})") from exc
    return _load_spec(file, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _load_spec(file: Path, mtime_ns: int, size: int) -> BenchmarkSpec:
    import yaml

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{file}: not valid YAML: {exc}") from exc
    return parse_spec(data, file)


# --- discovery ----------------------------------------------------------------------------


def spec_dirs() -> list[Path]:
    """Folders searched for benchmark specs, in priority order (first match of a name wins)."""
    here = Path(__file__).resolve().parents[1]  # the sophia_eval package
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
