"""Leaderboards: published baselines with their protocols, runs beside them, run-vs-run comparison,
and markdown / CSV / HTML output. Reads only run records. Re-exports only."""

from sophia_eval.board.baselines import Baseline, BaselineError, load_baselines
from sophia_eval.board.compare import ProtocolMismatch, compare_paths, compare_runs
from sophia_eval.board.leaderboard import Leaderboard, build_leaderboard

__all__ = [
    "Baseline", "BaselineError", "Leaderboard", "ProtocolMismatch", "build_leaderboard", "compare_paths",
    "compare_runs", "load_baselines",
]
