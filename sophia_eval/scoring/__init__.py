"""Scoring: pass@k / avg / maj over verified records, official metrics (DynaMath, WeMath),
confidence intervals and paired significance tests. Pure Python. Re-exports only."""

from sophia_eval.scoring.metrics import pass_at_k, summarize
from sophia_eval.scoring.paired import mcnemar_exact, paired_bootstrap, paired_test

__all__ = ["mcnemar_exact", "paired_bootstrap", "paired_test", "pass_at_k", "summarize"]
