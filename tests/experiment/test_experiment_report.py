"""The shapes report's SOPHIA-vs-variant table: SOPHIA is the reference of one `compare` call per
seed and protocol, and its deltas are turned around to read "SOPHIA minus the other"."""

from __future__ import annotations

import sys
from pathlib import Path

import shapes_path  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
from lb_helpers import write_run  # noqa: E402

from sophia_eval.board.compare import compare_paths, comparison_to_dict  # noqa: E402


def _runs(tmp_path):
    # 40 items: SOPHIA right on 30, the other on 18, overlapping so the pairs are not independent.
    sophia = {f"q{i}": [i < 30] for i in range(40)}
    other = {f"q{i}": [5 <= i < 23] for i in range(40)}
    return (write_run(tmp_path / "sophia-s0", model="sophia", outcomes=sophia),
            write_run(tmp_path / "random-s0", model="random", outcomes=other))


def test_sophia_minus_equals_comparing_the_other_way_round(tmp_path):
    from shapes.report import sophia_minus

    sophia, other = _runs(tmp_path)
    as_reference = comparison_to_dict(compare_paths(str(sophia), str(other)))["benchmarks"][0]
    direct = comparison_to_dict(compare_paths(str(other), str(sophia)))["benchmarks"][0]
    turned = sophia_minus(as_reference)
    assert turned["delta"] == direct["delta"] == 100 * (30 - 18) / 40
    assert turned["ci_low"] == direct["ci_low"] and turned["ci_high"] == direct["ci_high"]
    assert turned["ci_low"] < turned["delta"] < turned["ci_high"]
    assert turned["p_value"] == direct["p_value"]


def test_the_markdown_shows_one_cell_per_protocol_and_seed_and_the_machine():
    from shapes.report import results_markdown

    cell = {"delta": 4.9, "ci_low": 2.4, "ci_high": 7.4, "p_value": 0.0001}
    result = {"table": {"base": {"greedy": {"b": 41.3}, "sampled": {"b": 35.4}}},
              "sophia_vs": {"random": {"greedy-s0": cell, "sampled-s1": {**cell, "p_value": 0.2}}},
              "shuffled_images_greedy": {}, "machine": {"cpu": "Some CPU", "cores": 2, "cpu_flags": ["avx2"],
                                                       "torch": "2.13.0"}}
    md = results_markdown(result, (0, 1))
    assert "| SOPHIA vs | greedy, seed 0 | greedy, seed 1 | sampled, seed 0 | sampled, seed 1 |" in md
    assert "| random | +4.9 [2.4, 7.4] p<0.001 | - | - | +4.9 [2.4, 7.4] p=0.2 |" in md
    assert "Machine: Some CPU, 2 cores, flags avx2; torch 2.13.0" in md


def test_machine_names_the_cpu_and_torch_without_importing_torch():
    import subprocess

    code = ("import sys, json; sys.path.insert(0, 'train/experiments'); from shapes.report import machine; "
            "m = machine(); print(json.dumps(m)); assert 'torch' not in sys.modules")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True).stdout
    import json
    m = json.loads(out)
    assert m["torch"]  # the test environment has torch installed
    if Path("/proc/cpuinfo").exists():
        assert m["cpu"] and m["cores"] >= 1 and isinstance(m["cpu_flags"], list)
