"""Spec schema, discovery and packaging."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sophia_eval.bench.registry import get_benchmark, list_benchmarks, load_spec, parse_ref
from sophia_eval.bench.spec import SpecError

REQUIRED = {
    "mathvision", "olympiadbench", "mathvista", "mathverse", "dynamath", "wemath", "logicvista", "mmmu",
    "mmmu_pro", "mv_math", "math500", "aime24", "aime25", "amc23", "minerva_math",
}
REPO = Path(__file__).resolve().parents[2]


def test_every_required_benchmark_is_registered():
    assert REQUIRED <= {s.name for s in list_benchmarks()}


def test_every_bundled_spec_folder_has_a_readme():
    missing = [s.name for s in list_benchmarks() if not (s.path / "README.md").is_file()]
    assert missing == []


def test_split_names_are_lower_snake_case():
    bad = [(s.name, k) for s in list_benchmarks() for k in s.splits if k != k.lower() or " " in k or "-" in k]
    assert bad == []


def test_mathvision_splits_match_the_leaderboard_names():
    spec = get_benchmark("mathvision")
    assert (spec.default_split, spec.splits["test"].n_items, spec.splits["testmini"].n_items) == ("test", 3040, 304)


def test_required_protocol_fields_are_exposed():
    spec = get_benchmark("dynamath")
    assert (spec.metric, spec.extraction, spec.prompt_template, spec.judge) == ("dynamath", "default", "default", "none")


def test_unknown_benchmark_lists_known_names():
    with pytest.raises(KeyError, match="mathvision"):
        get_benchmark("mathvisoin")


def test_unknown_split_lists_known_splits():
    with pytest.raises(KeyError, match="testmini"):
        get_benchmark("mathvision").split("dev")


def test_parse_ref_splits_name_and_split():
    assert (parse_ref("mathverse:testmini_vision_only"), parse_ref("mmmu")) == (("mathverse", "testmini_vision_only"), ("mmmu", None))


def test_unknown_top_level_key_names_file_and_key(toy):
    spec_dir, _ = toy({}, extra="metrc: accuracy\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec_dir / "benchmark.yaml")
    assert "benchmark.yaml" in str(err.value) and "metrc" in str(err.value)


def test_unknown_nested_key_is_an_error(toy):
    spec_dir, _ = toy({})
    path = spec_dir / "benchmark.yaml"
    path.write_text(path.read_text().replace("n_items: 2", "n_items: 2\n    shuffle: true"))
    with pytest.raises(SpecError, match=r"splits\.test.*shuffle"):
        load_spec(path)


def test_unknown_normalisation_is_an_error(toy):
    spec_dir, _ = toy({}, extra="normalize: [fix_everything]\n")
    with pytest.raises(SpecError, match="fix_everything"):
        load_spec(spec_dir / "benchmark.yaml")


def test_bad_metric_value_says_the_allowed_ones(toy):
    spec_dir, _ = toy({})
    path = spec_dir / "benchmark.yaml"
    path.write_text(path.read_text().replace("metric: accuracy", "metric: f1"))
    with pytest.raises(SpecError, match="accuracy"):
        load_spec(path)


def test_name_must_match_folder(toy):
    spec_dir, _ = toy({})
    path = spec_dir / "benchmark.yaml"
    path.write_text(path.read_text().replace("name: toy", "name: other"))
    with pytest.raises(SpecError, match="folder"):
        load_spec(path)


def test_extra_spec_folder_is_discovered(toy):
    toy({})
    assert get_benchmark("toy").title == "Toy"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # build isolation fetches hatchling from PyPI, exactly as a user's `pip install .` does
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-w", str(out), "-q"],
                   check=True, capture_output=True)
    return next(out.glob("sophia_eval-*.whl"))


@pytest.mark.slow
def test_built_wheel_contains_the_specs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"sophia_eval/_bundled/benchmarks/{b}/benchmark.yaml" for b in REQUIRED} <= names


@pytest.mark.slow
def test_plain_install_finds_bundled_specs(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # a pure-Python wheel installs by unpacking
    code = ("from sophia_eval.bench.registry import list_benchmarks; s = list_benchmarks(); "
            "print(len(s), s[0].path)")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    count, path = out.stdout.split()
    assert int(count) >= len(REQUIRED) and path.startswith(str(site / "sophia_eval" / "_bundled"))


def test_readme_example_spec_is_valid(tmp_path):
    import re

    import yaml

    from sophia_eval.bench.registry import parse_spec

    text = (REPO / "README.md").read_text()
    block = re.search(r"benchmarks/geoqa_mini/benchmark.yaml.*?```yaml\n(.*?)```", text, re.S).group(1)
    block = block.replace("<64 hex>", "a" * 64).replace("<commit>", "main")
    spec = parse_spec(yaml.safe_load(block), tmp_path / "geoqa_mini" / "benchmark.yaml")
    assert (spec.name, spec.split().n_items) == ("geoqa_mini", 500)
