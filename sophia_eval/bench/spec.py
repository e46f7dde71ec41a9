"""The benchmark spec as typed, frozen data (what a parsed `benchmark.yaml` is) and the schema's
word lists. Parsing and discovery are `bench.registry`'s; extraction policy names are the verifier's
(`verify.vocab.EXTRACTION_POLICIES`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

METRICS: tuple[str, ...] = ("accuracy", "dynamath", "wemath")
"""Metric kinds a benchmark may declare (`scoring.metrics.summarize` computes each)."""
JUDGE_MODES: tuple[str, ...] = ("none", "optional", "required")
LOCAL_FORMATS: tuple[str, ...] = ("jsonl", "json", "parquet")
SAMPLE_FIELDS: tuple[str, ...] = (
    "id", "question", "answer", "options", "images", "answer_type", "tolerance", "rel_tolerance",
    "precision", "unit", "multiple", "hint",
)
# `context` is not a Sample field: a shared problem setup (OlympiadBench physics) put before the question.
FIELD_KEYS: tuple[str, ...] = SAMPLE_FIELDS + ("context",)


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
    """Extraction policy name for the verifier (default | choice | lenient)."""
    prompt_template: str
    """Name in `sophia_eval.bench.prompts.TEMPLATES`."""
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
    """Named normalisations (`sophia_eval.bench.normalizers.NORMALIZERS`), applied in order."""
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
