"""Published baselines: numbers from papers and reports, each with its protocol and provenance.

The data lives as plain files, one CSV per source, beside `protocols.yaml` which defines every
protocol id a row may name (decoding, extractor, judges, and which `sophia-eval` presets
reproduce it). In a source checkout the directory is `<repo>/leaderboards/baselines`; an
installed wheel carries a copy as `sophia_eval/_bundled/baselines`.

Loading validates every row against the benchmark registry: an unknown benchmark, split or
metric, an unknown protocol, a value outside [0, 100] or a duplicated number is an error naming
the file and line, so a leaderboard never shows a number whose meaning is unclear.

`import_reference()` builds rows from the shared reference table (`published_results.csv`),
mapping its benchmark/split/metric names onto registry names with the table `REFERENCE_NAMES`
below, the one place to change when a registry name changes.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from sophia_eval.bench.registry import list_benchmarks

PROTOCOLS_FILE = "protocols.yaml"
COLUMNS: tuple[str, ...] = (
    "model", "size", "benchmark", "split", "metric", "value", "protocol", "reported_by",
    "self_reported", "source_url", "source_date", "reported_as", "note",
)
SELF_REPORTED = ("yes", "no", "mixed")

# Run-summary metric keys (sophia_eval.scoring.metrics.summarize) allowed per registry metric kind.
METRICS_BY_KIND: dict[str, frozenset[str]] = {
    "accuracy": frozenset({"pass@1"}),
    "dynamath": frozenset({"pass@1", "worst_case"}),
    "wemath": frozenset({"pass@1", "wemath_strict", "wemath_loose"}),
}

# Reference-table names -> registry names. Benchmark: (registry name, {reported split: split}).
REFERENCE_NAMES: dict[str, tuple[str, dict[str, str]]] = {
    "MathVision": ("mathvision", {"test_full": "test"}),
    "OlympiadBench": ("olympiadbench", {"full_no_proofs": "open_ended"}),
    "MathVista": ("mathvista", {"testmini": "testmini"}),
    "MathVerse": ("mathverse", {"testmini_vision_only": "testmini_vision_only"}),
    "DynaMath": ("dynamath", {"full_5010": "test"}),
    "WeMath": ("wemath", {"testmini": "testmini"}),
    "LogicVista": ("logicvista", {"full": "test"}),
    "MMMU": ("mmmu", {"val": "validation"}),
    "MMMU-Pro": ("mmmu_pro", {"vision": "vision"}),
    "MV-MATH": ("mv_math", {"full": "test"}),
}
REFERENCE_METRICS: dict[str, str] = {
    "acc": "pass@1",
    "average_acc": "pass@1",  # DynaMath average accuracy over all variants = per-item pass@1
    "worst_case_acc": "worst_case",
    "strict_score": "wemath_strict",
}
# Reference protocol text -> protocol id in protocols.yaml (matched by prefix).
REFERENCE_PROTOCOLS: dict[str, str] = {
    "SOPHIA protocol": "sophia",
    "InternVL3.5 report reasoning suite": "internvl3.5_report",
}


class BaselineError(ValueError):
    """A baselines file or row is malformed or names something the registry does not know."""


@dataclass(frozen=True)
class PublishedProtocol:
    """How a set of published numbers was produced (one entry of `protocols.yaml`); the decoding
    settings of a run of ours are `harness.protocols.Protocol`."""

    id: str
    title: str
    description: str
    """The protocol as the source states it."""
    run_presets: tuple[str, ...] = ()
    """`sophia-eval` protocol presets (run config `protocol.name`) that reproduce this protocol."""
    decoding: Mapping[str, Any] | None = None
    """temperature / top_p / max_new_tokens / n used for every model, or None when not stated."""
    extractor: str | None = None
    """Model that extracted answers (None: rule-based extraction or not stated)."""
    judges: Mapping[str, str] = field(default_factory=dict)
    """Registry benchmark name -> judge model, for benchmarks judged by an LLM."""
    notes: str = ""
    use_hint: bool | None = None
    """Whether the benchmark's own hint was prepended to the question (None: not stated)."""


@dataclass(frozen=True)
class Baseline:
    """One published number with its provenance."""

    model: str
    size: str
    benchmark: str
    """Registry benchmark name."""
    split: str
    metric: str
    """Run-summary metric key: pass@1, worst_case, wemath_strict, wemath_loose."""
    value: float
    """Percent."""
    value_text: str
    """The value exactly as published (keeps its precision)."""
    protocol: str
    reported_by: str
    self_reported: str
    source_url: str
    source_date: str
    reported_as: str = ""
    """Benchmark / split / metric names as the source printed them."""
    note: str = ""
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


# -- locating -------------------------------------------------------------------------------


def baselines_dir(package_dir: str | Path | None = None) -> Path:
    """The bundled baselines: the wheel copy when installed, else `<repo>/leaderboards/baselines`.

    `package_dir` is the installed `sophia_eval` package directory (default: this module's).
    """
    here = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parents[1]
    for candidate in (here / "_bundled" / "baselines", here.parent / "leaderboards" / "baselines"):
        if (candidate / PROTOCOLS_FILE).is_file():
            return candidate
    raise BaselineError(
        f"no baselines found: expected {PROTOCOLS_FILE} in {here / '_bundled' / 'baselines'} "
        f"(installed wheel) or {here.parent / 'leaderboards' / 'baselines'} (source checkout); "
        "reinstall sophia-eval or pass a baselines directory explicitly"
    )


# -- vocabulary (registry) ------------------------------------------------------------------


def registry_vocabulary() -> dict[str, tuple[dict[str, int | None], str]]:
    """Registry benchmark name -> ({split: item count or None}, metric kind)."""
    vocab: dict[str, tuple[dict[str, int | None], str]] = {}
    for spec in list_benchmarks():
        splits = {name: getattr(s, "n_items", None) for name, s in spec.splits.items()}
        vocab[spec.name] = (splits, spec.metric)
    return vocab


# -- protocols ------------------------------------------------------------------------------


_PROTOCOL_KEYS = {"title", "description", "run_presets", "decoding", "extractor", "judges", "notes", "use_hint"}
_DECODING_KEYS = {"temperature", "top_p", "max_new_tokens", "n"}


def load_protocols(directory: str | Path | None = None) -> dict[str, PublishedProtocol]:
    """Parse and validate `protocols.yaml`."""
    import yaml

    path = Path(directory or baselines_dir()) / PROTOCOLS_FILE
    if not path.is_file():
        raise BaselineError(f"{path}: missing; every baselines directory defines its protocols there")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BaselineError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict) or not raw:
        raise BaselineError(f"{path}: expected a mapping of protocol id -> definition")
    protocols: dict[str, PublishedProtocol] = {}
    for pid, body in raw.items():
        if not isinstance(body, dict):
            raise BaselineError(f"{path}: protocol {pid!r}: expected a mapping")
        unknown = set(body) - _PROTOCOL_KEYS
        if unknown:
            raise BaselineError(f"{path}: protocol {pid!r}: unknown key(s) {sorted(unknown)}; allowed {sorted(_PROTOCOL_KEYS)}")
        for key in ("title", "description"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise BaselineError(f"{path}: protocol {pid!r}: '{key}' must be a non-empty string")
        decoding = body.get("decoding")
        if decoding is not None and (not isinstance(decoding, dict) or set(decoding) - _DECODING_KEYS):
            raise BaselineError(
                f"{path}: protocol {pid!r}: 'decoding' must be null or a mapping with keys from {sorted(_DECODING_KEYS)}"
            )
        protocols[str(pid)] = PublishedProtocol(
            id=str(pid),
            title=body["title"].strip(),
            description=" ".join(body["description"].split()),
            run_presets=tuple(body.get("run_presets") or ()),
            decoding=decoding,
            extractor=body.get("extractor"),
            judges=dict(body.get("judges") or {}),
            notes=" ".join(str(body.get("notes") or "").split()),
            use_hint=body.get("use_hint"),
        )
    return protocols


# -- rows -----------------------------------------------------------------------------------


def _validate_row(
    row: Mapping[str, str],
    where: str,
    vocab: Mapping[str, tuple[dict[str, int | None], str]],
    protocols: Mapping[str, PublishedProtocol],
) -> Baseline:
    for column in COLUMNS:
        if column != "note" and column != "reported_as" and not (row.get(column) or "").strip():
            raise BaselineError(f"{where}: column '{column}' is empty; every published number needs it")
    bench, split, metric = row["benchmark"].strip(), row["split"].strip(), row["metric"].strip()
    if bench not in vocab:
        raise BaselineError(f"{where}: unknown benchmark {bench!r}; registry benchmarks are {sorted(vocab)}")
    splits, kind = vocab[bench]
    if split not in splits:
        raise BaselineError(f"{where}: unknown split {split!r} of {bench}; its splits are {sorted(splits)}")
    allowed = METRICS_BY_KIND.get(kind, frozenset({"pass@1"}))
    if metric not in allowed:
        raise BaselineError(f"{where}: unknown metric {metric!r} for {bench} (metric kind {kind}); expected one of {sorted(allowed)}")
    protocol = row["protocol"].strip()
    if protocol not in protocols:
        raise BaselineError(f"{where}: unknown protocol {protocol!r}; define it in {PROTOCOLS_FILE} (known: {sorted(protocols)})")
    text = row["value"].strip()
    try:
        value = float(text)
    except ValueError:
        raise BaselineError(f"{where}: value {text!r} is not a number (percent, e.g. 49.08)") from None
    if not (0.0 <= value <= 100.0) or math.isnan(value):
        raise BaselineError(f"{where}: value {text} is outside [0, 100]; values are percentages")
    self_reported = row["self_reported"].strip()
    if self_reported not in SELF_REPORTED:
        raise BaselineError(f"{where}: self_reported {self_reported!r} must be one of {list(SELF_REPORTED)}")
    url = row["source_url"].strip()
    if not url.startswith(("https://", "http://")):
        raise BaselineError(f"{where}: source_url {url!r} must be an http(s) URL of the source")
    date = row["source_date"].strip()
    try:
        _dt.date.fromisoformat(date)
    except ValueError:
        raise BaselineError(f"{where}: source_date {date!r} must be an ISO date (YYYY-MM-DD)") from None
    file, _, line = where.rpartition(":")
    return Baseline(
        model=row["model"].strip(), size=row["size"].strip(), benchmark=bench, split=split,
        metric=metric, value=value, value_text=text, protocol=protocol,
        reported_by=row["reported_by"].strip(), self_reported=self_reported, source_url=url,
        source_date=date, reported_as=(row.get("reported_as") or "").strip(),
        note=(row.get("note") or "").strip(), file=file, line=int(line),
    )


def read_baselines_file(
    path: str | Path,
    *,
    vocab: Mapping[str, tuple[dict[str, int | None], str]],
    protocols: Mapping[str, PublishedProtocol],
) -> list[Baseline]:
    """Parse and validate one baselines CSV."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM from spreadsheet exports
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if set(header) != set(COLUMNS):
        missing, extra = sorted(set(COLUMNS) - set(header)), sorted(set(header) - set(COLUMNS))
        raise BaselineError(f"{path}: header must have columns {list(COLUMNS)}; missing {missing}, unexpected {extra}")
    rows: list[Baseline] = []
    for row in reader:
        if None in row:  # more cells than the header has columns
            raise BaselineError(f"{path}:{reader.line_num}: {len(row[None])} cell(s) beyond the header's {len(COLUMNS)} columns")
        rows.append(_validate_row(row, f"{path}:{reader.line_num}", vocab, protocols))
    return rows


def load_baselines(
    directory: str | Path | None = None,
    *,
    vocab: Mapping[str, tuple[dict[str, int | None], str]] | None = None,
) -> list[Baseline]:
    """Every published number in `directory` (default: the bundled baselines), validated.

    Two rows for the same (model, benchmark, split, metric, protocol) are an error naming both.
    """
    directory = Path(directory) if directory is not None else baselines_dir()
    protocols = load_protocols(directory)
    vocab = vocab if vocab is not None else registry_vocabulary()
    files = sorted(directory.glob("*.csv"))
    if not files:
        raise BaselineError(f"{directory}: no baselines files (*.csv)")
    seen: dict[tuple[str, ...], Baseline] = {}
    out: list[Baseline] = []
    for path in files:
        for b in read_baselines_file(path, vocab=vocab, protocols=protocols):
            key = (b.model, b.benchmark, b.split, b.metric, b.protocol)
            if key in seen:
                raise BaselineError(f"{b.where}: duplicates {seen[key].where} ({' / '.join(key)}); keep one number per cell")
            seen[key] = b
            out.append(b)
    return out


# -- building from the shared reference table --------------------------------------------------


def map_reference_row(row: Mapping[str, str], where: str) -> dict[str, str]:
    """One `published_results.csv` row -> a baselines row (registry names, provenance kept)."""
    bench_name = row.get("benchmark", "")
    if bench_name not in REFERENCE_NAMES:
        raise BaselineError(f"{where}: benchmark {bench_name!r} has no registry mapping; add it to REFERENCE_NAMES in {__name__}")
    bench, splits = REFERENCE_NAMES[bench_name]
    if row.get("split") not in splits:
        raise BaselineError(f"{where}: split {row.get('split')!r} of {bench_name} has no registry mapping; add it to REFERENCE_NAMES")
    if row.get("metric") not in REFERENCE_METRICS:
        raise BaselineError(f"{where}: metric {row.get('metric')!r} has no mapping; add it to REFERENCE_METRICS")
    protocol = next((pid for prefix, pid in REFERENCE_PROTOCOLS.items() if row.get("protocol", "").startswith(prefix)), None)
    if protocol is None:
        raise BaselineError(f"{where}: protocol {row.get('protocol', '')[:60]!r}... has no id; add it to REFERENCE_PROTOCOLS")
    return {
        "model": row["model"], "size": row["size"], "benchmark": bench, "split": splits[row["split"]],
        "metric": REFERENCE_METRICS[row["metric"]], "value": row["value"], "protocol": protocol,
        "reported_by": row["reported_by"], "self_reported": row["self_reported"],
        "source_url": row["source_url"], "source_date": row["source_date"],
        "reported_as": f"{bench_name} / {row['split']} / {row['metric']}", "note": "",
    }


def import_reference(reference_csv: str | Path) -> list[dict[str, str]]:
    """Every row of the shared reference table, mapped (see `map_reference_row`), in file order."""
    path = Path(reference_csv)
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return [map_reference_row(row, f"{path}:{reader.line_num}") for row in reader]


def write_baselines_csv(rows: Sequence[Mapping[str, str]], path: str | Path) -> None:
    """Write baselines rows with the standard header (used to (re)build the bundled files)."""
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})


def source_file_name(source_url: str) -> str:
    """File name for one source's rows: `arxiv-2507.16814.csv` for an arXiv abstract URL."""
    tail = source_url.rstrip("/").rsplit("/", 1)[-1]
    prefix = "arxiv-" if "arxiv.org" in source_url else ""
    return f"{prefix}{tail}.csv"


def rebuild_from_reference(reference_csv: str | Path, directory: str | Path) -> list[Path]:
    """(Re)write one baselines CSV per source in `directory` from the shared reference table."""
    by_file: dict[str, list[dict[str, str]]] = {}
    for row in import_reference(reference_csv):
        by_file.setdefault(source_file_name(row["source_url"]), []).append(row)
    written = []
    for name, rows in sorted(by_file.items()):
        write_baselines_csv(rows, Path(directory) / name)
        written.append(Path(directory) / name)
    return written
