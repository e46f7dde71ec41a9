"""Shared helpers for registry/loader tests: the real data root and spec folders made on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest

from sophia_eval.bench.loading import load_split, resolve_data_dir
from sophia_eval.bench.registry import get_benchmark

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def data_root() -> Path:
    # Same resolution as the CLI: $SOPHIA_EVAL_DATA (CI sets it) else ../shared/data; a missing
    # root is an error here on purpose, never a silent skip.
    return resolve_data_dir()


@pytest.fixture(scope="session")
def load(data_root):
    cache: dict = {}

    def _load(name: str, split: str | None = None, **kw):
        key = (name, split, tuple(sorted(kw.items())))
        if key not in cache:
            kw.setdefault("require_images", False)
            cache[key] = load_split(get_benchmark(name), split, data_dir=data_root, **kw)
        return cache[key]

    return _load


MINIMAL_SPEC = """\
name: {name}
title: Toy
description: toy benchmark for tests
version: "1"
license: MIT
homepage: https://example.org
metric: accuracy
extraction: default
prompt_template: default
judge: none
default_split: test
splits:
  test:
    n_items: {n_items}
    local: {{dir: toy, format: {fmt}, files: [{{path: {file}}}]}}
fields:
  id: id
  question: question
  answer: answer
  images: [image]
{extra}"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """Make a spec folder + data root; returns (spec_dir, data_root)."""

    def _make(files: dict[str, bytes | str], *, name: str = "toy", n_items: int = 2, fmt: str = "jsonl",
              file: str = "data.jsonl", extra: str = "", spec_text: str | None = None):
        specs = tmp_path / "specs"
        (specs / name).mkdir(parents=True, exist_ok=True)
        text = spec_text if spec_text is not None else MINIMAL_SPEC.format(name=name, n_items=n_items, fmt=fmt, file=file, extra=extra)
        (specs / name / "benchmark.yaml").write_text(text, encoding="utf-8")
        root = tmp_path / "data"
        for rel, content in files.items():
            p = root / "toy" / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        root.mkdir(exist_ok=True)
        monkeypatch.setenv("SOPHIA_EVAL_BENCHMARKS", str(specs))
        return specs / name, root

    return _make
