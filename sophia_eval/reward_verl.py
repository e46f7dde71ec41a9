"""verl entry points: name this file and a function in verl's `custom_reward_function` config.

    custom_reward_function.path=<site-packages>/sophia_eval/reward_verl.py
    custom_reward_function.name=compute_score          # NaiveRewardManager (one item per call)
    custom_reward_function.name=compute_score_batch    # reward_model.reward_manager=batch

verl calls `compute_score(data_source=, solution_str=, ground_truth=, extra_info=)` plus any
`custom_reward_function.reward_kwargs`. Verifier metadata (options, answer_type, tolerance, ...)
is read from `extra_info`; its other keys (index, split, num_turns, ...) are ignored. verl needs a
number for every item, so an unverifiable one (missing/bad gold, timeout, error) scores
`unverifiable_score` (default 0.0, a reward kwarg); the dict's `status` says which it was, and verl
logs it with the other `reward_extra_info`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from sophia_eval.reward import reward_value, score_items
from sophia_eval.verify import Verdict
from sophia_eval.verify.pool import default_pool


def _split_gold(ground_truth: Any, extra_info: Any) -> tuple[Any, dict[str, Any]]:
    """(gold, metadata): `ground_truth` may itself be a mapping with the answer and metadata."""
    meta = dict(extra_info) if isinstance(extra_info, Mapping) else {}
    if isinstance(ground_truth, Mapping):
        meta.update(ground_truth)
        ground_truth = ground_truth.get("answer", ground_truth.get("gold"))
    return ground_truth, meta


def _result(v: Verdict, unverifiable_score: float) -> dict[str, Any]:
    r = reward_value(v)
    return {"score": float(unverifiable_score) if r is None else r, "status": v.status}


def compute_score(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None, *,
                  unverifiable_score: float = 0.0, timeout: float = 2.0, policy: str | None = None,
                  **_: Any) -> dict[str, Any]:
    """`{"score": 1.0 | 0.0 | unverifiable_score, "status": <verdict status>}` for one response."""
    gold, meta = _split_gold(ground_truth, extra_info)
    (v,) = score_items([gold], [solution_str], [meta], policy=policy, timeout=timeout)
    return _result(v, unverifiable_score)


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[Any], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any] | None = None, *, unverifiable_score: float = 0.0,
                        timeout: float = 2.0, policy: str | None = None, workers: int | None = None,
                        **_: Any) -> list[dict[str, Any]]:
    """verl's BatchRewardManager shape: lists in, one result dict per response out, in order.

    Checks run on the process-wide warm pool (grown to `workers` processes if asked for more)."""
    n = len(solution_strs)
    if not len(ground_truths) == n or (extra_infos is not None and len(extra_infos) != n):
        raise ValueError(f"compute_score_batch: {n} solution_strs, {len(ground_truths)} ground_truths"
                         + ("" if extra_infos is None else f", {len(extra_infos)} extra_infos")
                         + "; expected one of each per response")
    split = [_split_gold(g, None if extra_infos is None else extra_infos[i]) for i, g in enumerate(ground_truths)]
    verdicts = score_items([g for g, _ in split], solution_strs, [m for _, m in split],
                           policy=policy, timeout=timeout, pool=default_pool(workers))
    return [_result(v, unverifiable_score) for v in verdicts]
