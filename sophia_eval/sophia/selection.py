"""Trajectory selection: which sampled reasoning trajectories become training data.

Rule (variant `sophia`, paper Keep-1/Keep-N), per question:
  1. a caption qualifies when its reward R(c) = mean of its reasoning rewards is STRICTLY greater
     than alpha (alpha = 0.75 with N = 8 means at least 7 of 8 correct);
  2. among trajectories with R(y) = 1 under a qualifying caption, keep the `keep` shortest.
Questions with no qualifying trajectory contribute nothing. When N (reasoning samples asked per
caption) is known, R(c) is over N: samples never recorded (backend errors, interrupted sampling)
count as 0, so a caption does not pass alpha on partial evidence (`run_selection` reads N from
the sampling records; the summary counts `n_captions_incomplete`).

Length unit (`SelectionConfig.length_unit`): `tokens` = the reasoner's completion tokens as
reported by its backend (the paper's max length is in tokens); `chars` = characters of the text.
Tie-break among equal lengths, deterministic and documented: higher caption reward first, then
lower caption index, then lower sample index.

Ablation variants (the paper compares them): `random` keeps random trajectories with no reward
filter at all; `no_caption_reward` keeps the shortest correct ones regardless of alpha;
`no_shortest` keeps random correct trajectories under qualifying captions. Random picks are
seeded by (seed, item id) only, so they do not change when other items are added.
"""

from __future__ import annotations

import random
from collections import defaultdict
from statistics import mean, median
from typing import Any, Mapping, Sequence

from sophia_eval.sophia.config import SelectionConfig
from sophia_eval.sophia.rewards import caption_rewards


class EmptySelectionError(RuntimeError):
    """No trajectory passed selection, so there is nothing to train on."""


def trajectory_length(t: Mapping[str, Any], unit: str) -> int:
    if unit == "chars":
        return len(t["reasoning"])
    tokens = t.get("completion_tokens")
    if tokens is None:
        raise ValueError(
            f"trajectory item={t['item_id']} caption={t['caption_index']} sample={t['sample_index']} has no "
            "completion_tokens (the reasoner backend did not report them); select with length_unit='chars'")
    return int(tokens)


def _order_key(t: Mapping[str, Any], length: int, r_caption: float) -> tuple:
    return (length, -r_caption, int(t["caption_index"]), int(t["sample_index"]))


def select_trajectories(trajectories: Sequence[Mapping[str, Any]],
                        config: SelectionConfig = SelectionConfig(), *,
                        num_reasonings: int | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Apply the selection rule; return (selected trajectories with provenance, summary).

    `num_reasonings`: N of the sampling run; missing samples then count as 0 in R(c).
    """
    r_caps = caption_rewards(trajectories, num_reasonings=num_reasonings)
    by_item: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for t in trajectories:
        by_item[str(t["item_id"])].append(t)

    selected: list[dict[str, Any]] = []
    for item_id in sorted(by_item):
        group = by_item[item_id]
        scored = []
        for t in group:
            r_c = r_caps[(item_id, int(t["caption_index"]))]["reward"]
            correct = t.get("reward") == 1.0
            qualifies = r_c > config.alpha
            if config.variant == "random":
                eligible = True
            elif config.variant == "no_caption_reward":
                eligible = correct
            else:  # sophia, no_shortest
                eligible = correct and qualifies
            if eligible:
                length = trajectory_length(t, config.length_unit)
                scored.append((_order_key(t, length, r_c), t, r_c, length))
        scored.sort(key=lambda s: s[0])
        if config.variant in ("random", "no_shortest"):
            rng = random.Random(f"{config.seed}:{item_id}")
            picks = rng.sample(scored, min(config.keep, len(scored)))
        else:
            picks = scored[: config.keep]
        for rank, (_, t, r_c, length) in enumerate(picks):
            selected.append({**t, "caption_reward": r_c, "length": length, "length_unit": config.length_unit,
                             "selection_variant": config.variant, "selection_rank": rank,
                             # R(y) = 1 for every kept trajectory except in the `random` ablation, which
                             # trains on its picks unweighted (SFT on unfiltered data, as the paper's baseline)
                             "weight": 1.0})
    return selected, summarize(trajectories, selected, r_caps, config)


def summarize(trajectories: Sequence[Mapping[str, Any]], selected: Sequence[Mapping[str, Any]],
              r_caps: Mapping[tuple[str, int], Mapping[str, Any]], config: SelectionConfig) -> dict[str, Any]:
    """Kept fraction, caption-reward histogram (exact values: rewards are multiples of 1/N),
    length statistics of the kept trajectories, and counts of unjudged rewards."""
    items = {str(t["item_id"]) for t in trajectories}
    kept_items = {str(t["item_id"]) for t in selected}
    hist: dict[str, int] = defaultdict(int)
    for info in r_caps.values():
        hist[f"{info['reward']:.4f}"] += 1
    lengths = [int(t["length"]) for t in selected]
    return {
        "config": {"alpha": config.alpha, "keep": config.keep, "variant": config.variant,
                   "length_unit": config.length_unit, "seed": config.seed},
        "n_items": len(items),
        "n_items_kept": len(kept_items),
        "kept_fraction": len(kept_items) / len(items) if items else 0.0,
        "n_captions": len(r_caps),
        "n_captions_above_alpha": sum(1 for i in r_caps.values() if i["reward"] > config.alpha),
        "n_captions_incomplete": sum(1 for i in r_caps.values() if i.get("n_missing")),
        "n_trajectories": len(trajectories),
        "n_correct": sum(1 for t in trajectories if t.get("reward") == 1.0),
        "n_unjudged": sum(1 for t in trajectories if t.get("reward") is None),
        "n_selected": len(selected),
        "caption_reward_histogram": dict(sorted(hist.items())),
        "selected_length": ({"min": min(lengths), "mean": mean(lengths), "median": median(lengths),
                             "max": max(lengths), "unit": config.length_unit} if lengths else None),
    }
