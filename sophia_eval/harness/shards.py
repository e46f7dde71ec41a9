"""Merging the runs of `--shard I/N` into one run with one summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from sophia_eval.harness.runner import HarnessError, finalize, latest_records
from sophia_eval.runs.lock import run_lock
from sophia_eval.runs.store import RunStore


def merge(shard_dirs: Sequence[str | Path], out: str | Path) -> Path:
    """Combine the runs of `--shard 0/N` ... `--shard N-1/N` into one run with one summary.

    Refuses shards of different configs, a missing or repeated shard, a duplicated (item, sample)
    record, and any expected (item, sample) that no shard recorded.
    """
    stores = [RunStore.open(d) for d in shard_dirs]
    metas = [s.meta for s in stores]
    base = None
    seen: dict[int, Path] = {}
    counts = set()
    for store, meta in zip(stores, metas):
        cfg = dict(meta["config"])
        shard = cfg.pop("shard", None)
        if shard is None:
            raise HarnessError(f"{store.run_file}: not a shard (config.shard is null); merge takes --shard runs")
        index, count = int(shard[0]), int(shard[1])
        counts.add(count)
        if index in seen:
            raise HarnessError(f"shard {index}/{count} given twice: {seen[index]} and {store.path}")
        seen[index] = store.path
        if base is None:
            base = cfg
        elif cfg != base:
            diff = sorted(k for k in set(cfg) | set(base) if cfg.get(k) != base.get(k))
            raise HarnessError(f"{store.run_file}: config differs from {stores[0].run_file} in {diff}; shards of one run must share every setting")
    if len(counts) != 1:
        raise HarnessError(f"shards disagree on N: {sorted(counts)}")
    count = counts.pop()
    absent = sorted(set(range(count)) - set(seen))
    if absent:
        raise HarnessError(f"missing shard(s) {[f'{i}/{count}' for i in absent]}; got {len(seen)} of {count}")
    by_index = {int(m["config"]["shard"][0]): (s, m) for s, m in zip(stores, metas)}
    expected_parts = [by_index[i][1].get("expected_items") or [] for i in range(count)]
    total = sum(len(p) for p in expected_parts)
    expected = [expected_parts[p % count][p // count] for p in range(total)]
    records: dict[tuple[str, int], dict[str, Any]] = {}
    owner: dict[tuple[str, int], Path] = {}
    for i in range(count):
        store = by_index[i][0]
        for key, rec in latest_records(store).items():
            if key in records:
                raise HarnessError(f"item {key[0]} sample {key[1]} recorded by both {owner[key]} and {store.path}")
            records[key], owner[key] = rec, store.path
    n = int(base["generation"]["n"])
    missing = [(item, j) for item in expected for j in range(n) if (item, j) not in records]
    if missing:
        raise HarnessError(f"{len(missing)} expected (item, sample) pairs have no record, e.g. {missing[:5]}; finish or resume those shards first")
    meta = {k: v for k, v in metas[0].items() if k not in ("config", "config_hash", "summary", "schema_version")}
    meta.update(config={**base, "shard": None}, expected_items=expected, merged_from=[str(s.path) for s in stores])
    with run_lock(out, "merge"):
        merged = RunStore.create_or_resume(out, meta)
        merged.replace_records(records.values())
        finalize(merged)
    return Path(out)
