"""The shape of the package: no import cycles, a verifier that stands alone, a lazy top-level API,
and one home per word list that the schema and the CLI read."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "sophia_eval"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> sophia_eval modules it imports anywhere (also inside functions)."""
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [(a.name, None) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                names = [(base, a.name) for a in node.names]
            else:
                continue
            for base, name in names:
                if f"{base}.{name}" in files:
                    targets.add(f"{base}.{name}")
                elif base in files:
                    targets.add(base)
        # a child importing its own package's __init__ is how Python loads it, not a dependency
        graph[mod] = {t for t in targets if t != mod and not mod.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_package_has_no_import_cycles():
    assert cycles(import_graph()) == []


def test_verify_imports_nothing_from_the_rest_of_the_package():
    outside = {
        f"{mod} -> {t}"
        for mod, targets in import_graph().items() if mod.startswith("sophia_eval.verify")
        for t in targets if not t.startswith("sophia_eval.verify")
    }
    assert outside == set()


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=PKG.parent)
    return set(out.stdout.split())


HEAVY = ("numpy", "torch", "transformers", "pandas", "pyarrow", "datasets", "PIL", "yaml", "httpx", "rich")
UPPER = ("sophia_eval.harness", "sophia_eval.board", "sophia_eval.scoring", "sophia_eval.bench",
         "sophia_eval.runs", "sophia_eval.backends", "sophia_eval.sophia", "sophia_eval.cli")


@pytest.mark.parametrize("code", ["import sophia_eval.verify", "from sophia_eval import OutcomeReward"])
def test_verifier_and_reward_load_alone(code):
    loaded = _loaded_after(code)
    assert "sophia_eval.verify" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(UPPER)) == []


def test_every_public_name_resolves():
    import sophia_eval

    for name in sophia_eval.__all__:
        assert getattr(sophia_eval, name) is not None, name


# -- word lists ---------------------------------------------------------------------------


def test_verifier_word_lists_agree_with_their_home():
    from sophia_eval.verify import extract, types, vocab

    assert types.STATUSES == vocab.STATUSES
    assert vocab.SCORED_STATUSES < set(vocab.STATUSES)
    assert sorted(extract._POLICIES) == sorted(vocab.EXTRACTION_POLICIES)


def test_metadata_keys_are_what_verify_takes_and_what_a_sample_carries():
    import inspect

    from sophia_eval.bench.sample import Sample
    from sophia_eval.verify import verify
    from sophia_eval.verify.vocab import METADATA_KEYS

    params = set(inspect.signature(verify).parameters) - {"gold", "pred", "policy", "timeout"}
    assert sorted(params) == sorted(METADATA_KEYS)
    sample = Sample(benchmark="b", id="1", question="q", answer="a")
    assert sorted(sample.verify_kwargs()) == sorted([*METADATA_KEYS, "policy"])


@pytest.mark.parametrize("key, words", [
    ("extraction", "sophia_eval.verify.vocab:EXTRACTION_POLICIES"),
    ("metric", "sophia_eval.bench.spec:METRICS"),
    ("judge", "sophia_eval.bench.spec:JUDGE_MODES"),
])
def test_benchmark_schema_accepts_exactly_its_word_list(key, words, tmp_path):
    import importlib

    import yaml

    from sophia_eval.bench.registry import load_spec
    from sophia_eval.bench.spec import SpecError

    module, name = words.split(":")
    allowed = getattr(importlib.import_module(module), name)
    source = yaml.safe_load((PKG.parent / "benchmarks" / "mathvision" / "benchmark.yaml").read_text())
    folder = tmp_path / "mathvision"
    folder.mkdir()
    for word in allowed:
        (folder / "benchmark.yaml").write_text(yaml.safe_dump({**source, key: word}))
        assert getattr(load_spec(folder / "benchmark.yaml"), key) == word
    (folder / "benchmark.yaml").write_text(yaml.safe_dump({**source, key: "no-such-word"}))
    with pytest.raises(SpecError, match=key):
        load_spec(folder / "benchmark.yaml")


def _help(*args: str) -> str:
    from typer.testing import CliRunner

    from sophia_eval.cli import app

    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_cli_help_reads_the_word_lists():
    from sophia_eval.backends import BACKENDS
    from sophia_eval.verify.types import ANSWER_TYPES
    from sophia_eval.verify.vocab import EXTRACTION_POLICIES

    verify_help = _help("verify")
    assert ", ".join(EXTRACTION_POLICIES) in verify_help
    assert ", ".join(ANSWER_TYPES) in verify_help
    assert " | ".join(BACKENDS) in _help("run")


def test_summarize_accepts_exactly_the_metric_kinds():
    from sophia_eval.bench.spec import METRICS
    from sophia_eval.scoring.metrics import summarize

    for kind in METRICS:
        summarize([], metric=kind)
    with pytest.raises(ValueError, match="unknown metric"):
        summarize([], metric="no-such-kind")
