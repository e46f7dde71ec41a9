"""Outcome reward for reasoning trajectories, and the visual reward propagated back to captions.

The outcome reward is the project verifier (`sophia_eval.verify.verify_many`, the function
`sophia_eval.reward.OutcomeReward` wraps), called with the item's answer metadata
(`Sample.verify_kwargs()`); there is no second implementation of answer checking here.
Mapping from verdict to reward, as in `OutcomeReward`: `correct` -> 1.0, `incorrect` and
`no_answer` -> 0.0, `bad_gold`/`timeout`/`error` -> None (not a judgement of the trajectory).

Caption reward R(c_k) = mean over its N reasoning rewards. A None reward counts as 0 there: the
verifier could not confirm the answer, and a caption should not pass the threshold on
unconfirmed evidence. The count of None rewards is reported so a broken gold is visible.
For the same reason, when N (samples asked per caption) is known, samples that were never
recorded (backend errors, an interrupted sampling run) also count as 0: R(c) divides by N, not by
the number recorded, so 2 correct of 2 recorded out of N = 8 is 0.25, not 1.0.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

from sophia_eval.bench.sample import Sample

UNJUDGED_STATUSES = frozenset({"bad_gold", "timeout", "error"})


def reward_from_status(status: str) -> float | None:
    if status == "correct":
        return 1.0
    if status in UNJUDGED_STATUSES:
        return None
    return 0.0


def score_texts(samples: Sequence[Sample], texts: Sequence[str], *, timeout: float = 2.0,
                workers: int | None = None) -> list[dict[str, Any]]:
    """Verify `texts[i]` against `samples[i]`; one dict per text: reward, status, extracted, method.

    Runs in the verifier's worker pool (bounded time per call, in any thread or process).
    """
    from sophia_eval.verify import verify_many

    if len(samples) != len(texts):
        raise ValueError(f"score_texts: {len(samples)} samples but {len(texts)} texts; pass one sample per text")
    if not texts:
        return []
    items = [{"gold": s.answer, "pred": t, **s.verify_kwargs()} for s, t in zip(samples, texts)]
    verdicts = verify_many(items, workers=workers, timeout=timeout)
    return [
        {"reward": reward_from_status(v.status), "status": v.status, "extracted": v.extracted,
         "method": v.method, "verifier_version": v.verifier_version}
        for v in verdicts
    ]


def caption_rewards(trajectories: Iterable[Mapping[str, Any]], *,
                    num_reasonings: int | None = None) -> dict[tuple[str, int], dict[str, Any]]:
    """R(c) per (item_id, caption_index): mean of its trajectories' rewards (None counts as 0).

    `num_reasonings`: N, the samples asked per caption; when given, the mean is over
    max(N, recorded) so missing samples count as 0 (a caption cannot pass alpha on partial data).
    Returns `{key: {"reward": float, "n": int, "n_correct": int, "n_unjudged": int, "n_missing": int}}`.
    """
    groups: dict[tuple[str, int], list[float | None]] = defaultdict(list)
    for t in trajectories:
        groups[(str(t["item_id"]), int(t["caption_index"]))].append(t.get("reward"))
    out = {}
    for key, rewards in groups.items():
        n_unjudged = sum(r is None for r in rewards)
        total = sum(r for r in rewards if r is not None)
        denom = max(len(rewards), num_reasonings or 0)
        out[key] = {"reward": total / denom, "n": len(rewards),
                    "n_correct": sum(r == 1.0 for r in rewards), "n_unjudged": n_unjudged,
                    "n_missing": denom - len(rewards)}
    return out


def rescore(trajectories: Sequence[Mapping[str, Any]], samples: Mapping[str, Sample], *,
            timeout: float = 2.0) -> list[dict[str, Any]]:
    """Recompute outcome rewards for stored trajectories (e.g. after a verifier upgrade)."""
    missing = sorted({str(t["item_id"]) for t in trajectories} - set(samples))
    if missing:
        raise KeyError(f"rescore: trajectories for item id(s) {missing[:5]} not in the training set")
    scores = score_texts([samples[str(t["item_id"])] for t in trajectories],
                         [t["reasoning"] for t in trajectories], timeout=timeout)
    return [{**t, **s} for t, s in zip(trajectories, scores)]
