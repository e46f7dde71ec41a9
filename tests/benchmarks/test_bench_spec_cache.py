"""Each benchmark spec is parsed once per process while its file is unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

from sophia_eval.bench import registry

REPO = Path(__file__).resolve().parents[2]


def test_spec_parsed_once_until_the_file_changes(tmp_path, monkeypatch):
    spec_file = tmp_path / "mathvision" / "benchmark.yaml"
    spec_file.parent.mkdir()
    shutil.copy(REPO / "benchmarks" / "mathvision" / "benchmark.yaml", spec_file)
    parses = []
    real = registry.parse_spec
    monkeypatch.setattr(registry, "parse_spec", lambda data, file: parses.append(file) or real(data, file))
    first = registry.load_spec(spec_file)
    assert registry.load_spec(spec_file) is first
    assert len(parses) == 1
    spec_file.write_text(spec_file.read_text().replace(first.title, first.title + " (edited)"))
    assert registry.load_spec(spec_file).title == first.title + " (edited)"
    assert len(parses) == 2
