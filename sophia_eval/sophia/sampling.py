"""Semi-off-policy sampling as a resumable, append-only pipeline.

Stage 1 (on-policy perception): K captions per image from the policy VLM, question withheld.
Stage 2 (off-policy reasoning): N reasoning samples per caption from the text reasoner, "as if
seeing the image"; each is verified right away (outcome reward with the item's answer metadata).

Both models are `Generator`s (`sophia_eval.backends.make_generator`): the same transformers, vLLM
and OpenAI-compatible backends the harness evaluates with. Records in `<out_dir>/`:

    sampling.json        config, prompt version, policy and reasoner descriptions (checked on resume)
    captions.jsonl       one line per (item_id, caption_index)
    trajectories.jsonl   one line per (item_id, caption_index, sample_index): caption, reasoning,
                         reward + verdict, token counts, finish reason, teacher model

A line is written once its generate call returns, so a crash loses at most the batch in flight and
a rerun generates only what is missing: nothing is sampled twice. Completions that come back as
backend errors are not recorded (they are retried on the next run) and are counted.

`latency_s` of a record is its share of the generate call's wall time (call time / completions
the call returned; batched backends cannot time one sequence), `call_latency_s` the call's.
Reasoning that closes `</think>` without opening it (QwQ/R1 templates put `<think>` in the
prompt, and a server without a reasoning parser returns the rest) gets the opening tag back, so
the trained trajectory has the form the slow-thinking system prompt asks for; counted in
`think_repaired`.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from sophia_eval.backends.base import BackendError, Completion, GenerationConfig, Generator
from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import PromptConfig, SamplingConfig
from sophia_eval.sophia.prompts import caption_messages, prompt_version, reasoning_messages
from sophia_eval.runs.jsonl import JsonlLog, RecordError, write_json_atomic
from sophia_eval.sophia.rewards import score_texts

CAPTIONS_FILE = "captions.jsonl"
TRAJECTORIES_FILE = "trajectories.jsonl"
META_FILE = "sampling.json"
# Settings that do not change what is sampled, so a resume may change them.
_FREE_SETTINGS = ("batch_size", "verify_timeout")


@dataclass
class SamplingStats:
    captions_new: int = 0
    captions_total: int = 0
    trajectories_new: int = 0
    trajectories_total: int = 0
    backend_errors: int = 0
    items_without_image: list[str] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)
    think_repaired: int = 0
    """Reasoning samples that lacked the opening `<think>` before `</think>` and got it prepended."""


THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def repair_think_open(text: str) -> tuple[str, bool]:
    """(text, repaired): `<think>` prepended when `</think>` comes without an opening tag before it."""
    close = text.find(THINK_CLOSE)
    if close < 0 or THINK_OPEN in text[:close]:
        return text, False
    return THINK_OPEN + ("" if text.startswith("\n") else "\n") + text, True


def _timed_generate(gen: Generator, convs: list, config: GenerationConfig) -> tuple[list[list[Completion]], float]:
    """Results and the per-completion share of the call's wall time."""
    import time

    t0 = time.perf_counter()
    results = gen.generate(convs, config)
    seconds = time.perf_counter() - t0
    return results, seconds / max(sum(len(r) for r in results), 1)


def _model_name(gen: Generator) -> str:
    desc = gen.describe()
    return str(desc.get("model") or desc.get("model_id") or desc.get("path") or gen.name)


def sampled_num_reasonings(out: str | Path) -> int | None:
    """N (reasoning samples per caption) the sampling run in `out` asked for; None without records."""
    import json

    path = Path(out) / META_FILE
    if not path.exists():
        return None
    n = (json.loads(path.read_text(encoding="utf-8")).get("config") or {}).get("num_reasonings")
    return int(n) if n is not None else None


def _check_meta(out: Path, meta: dict[str, Any]) -> None:
    path = out / META_FILE
    if not path.exists():
        write_json_atomic(path, meta)
        return
    import json

    old = json.loads(path.read_text(encoding="utf-8"))
    strip = lambda m: {**m, "config": {k: v for k, v in m["config"].items() if k not in _FREE_SETTINGS}}  # noqa: E731
    a, b = strip(old), strip(meta)
    diff = sorted(k for k in set(a["config"]) | set(b["config"]) if a["config"].get(k) != b["config"].get(k))
    for key in ("prompt_version", "policy_model", "reasoner_model"):
        if a.get(key) != b.get(key):
            diff.append(key)
    if diff:
        raise RecordError(f"{path}: these records were sampled with different {diff}; resuming would mix two "
                          "configurations. Use a new output directory or restore the original settings")


def _call_seed(base: int, *key: Any) -> int:
    """Seed of one generate call, derived from what it samples first (backends add the prompt
    index): refilling a missing sample after a crash does not replay the seed of its siblings."""
    import hashlib

    return base + int(hashlib.sha256(repr(key).encode()).hexdigest()[:8], 16) % (2**30)


def _batches(seq: Sequence[Any], size: int):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def _usable(comps: list[Completion], stats: SamplingStats) -> list[Completion]:
    ok = [c for c in comps if c.finish_reason != "error"]
    stats.backend_errors += len(comps) - len(ok)
    return ok


def _raise_if_all_failed(results: list[list[Completion]], what: str) -> None:
    flat = [c for r in results for c in r]
    if flat and all(c.finish_reason == "error" for c in flat):
        raise BackendError(f"the {what} returned an error for every request of a batch (first: {flat[0].error}); "
                           "is the server up and the model name right? Records so far are kept; rerun to resume")


def sample_captions(items: Sequence[Sample], policy: Generator, out: Path, config: SamplingConfig,
                    stats: SamplingStats, progress: Any = None, prompts: PromptConfig | None = None) -> None:
    version = prompt_version(prompts)
    log = JsonlLog(out / CAPTIONS_FILE)
    have: dict[str, set[int]] = defaultdict(set)
    for r in log.read():
        have[str(r["item_id"])].add(int(r["caption_index"]))
    todo = []
    for s in items:
        if not s.images:
            stats.items_without_image.append(s.id)
            continue
        missing = [k for k in range(config.num_captions) if k not in have[s.id]]
        if missing:
            todo.append((s, missing))
    policy_model = _model_name(policy)
    task = progress.add_task("captions (policy)", total=len(todo)) if progress else None
    # Calls are grouped by how many captions are missing, so each call has one `n`.
    groups: dict[int, list] = defaultdict(list)
    for s, missing in todo:
        groups[len(missing)].append((s, missing))
    for n, group in sorted(groups.items()):
        gen_cfg = GenerationConfig(n=n, temperature=config.caption_temperature, top_p=config.caption_top_p,
                                   max_new_tokens=config.caption_max_new_tokens, seed=config.seed)
        for batch in _batches(group, config.batch_size):
            call_cfg = dataclasses.replace(gen_cfg, seed=_call_seed(config.seed, "caption", batch[0][0].id, batch[0][1][0]))
            results, share = _timed_generate(policy, [caption_messages(s, prompts) for s, _ in batch], call_cfg)
            _raise_if_all_failed(results, "policy")
            rows = []
            for (s, missing), comps in zip(batch, results):
                for k, c in zip(missing, _usable(comps, stats)):
                    rows.append({"item_id": s.id, "caption_index": k, "caption": c.text,
                                 "finish_reason": c.finish_reason, "prompt_tokens": c.prompt_tokens,
                                 "completion_tokens": c.completion_tokens, "latency_s": share,
                                 "call_latency_s": c.latency_s, "policy_model": policy_model, "prompt_version": version})
            stats.captions_new += log.append(rows)
            if progress:
                progress.advance(task, len(batch))


def sample_reasoning(items: Sequence[Sample], reasoner: Generator, out: Path, config: SamplingConfig,
                     stats: SamplingStats, progress: Any = None, prompts: PromptConfig | None = None) -> None:
    version = prompt_version(prompts)
    by_id = {s.id: s for s in items}
    captions = [c for c in JsonlLog(out / CAPTIONS_FILE).read() if str(c["item_id"]) in by_id]
    log = JsonlLog(out / TRAJECTORIES_FILE)
    have: dict[tuple[str, int], set[int]] = defaultdict(set)
    for r in log.read():
        have[(str(r["item_id"]), int(r["caption_index"]))].add(int(r["sample_index"]))
    groups: dict[int, list] = defaultdict(list)
    for c in captions:
        key = (str(c["item_id"]), int(c["caption_index"]))
        missing = [n for n in range(config.num_reasonings) if n not in have[key]]
        if missing:
            groups[len(missing)].append((c, missing))
    teacher = _model_name(reasoner)
    task = progress.add_task("reasoning (reasoner)", total=sum(len(g) for g in groups.values())) if progress else None
    for n, group in sorted(groups.items()):
        gen_cfg = GenerationConfig(n=n, temperature=config.reasoning_temperature, top_p=config.reasoning_top_p,
                                   max_new_tokens=config.reasoning_max_new_tokens, seed=config.seed)
        for batch in _batches(group, config.batch_size):
            convs = [reasoning_messages(by_id[str(c["item_id"])], c["caption"], prompts) for c, _ in batch]
            first, missing = batch[0]
            call_cfg = dataclasses.replace(gen_cfg, seed=_call_seed(config.seed, "reasoning", str(first["item_id"]),
                                                                    int(first["caption_index"]), missing[0]))
            results, share = _timed_generate(reasoner, convs, call_cfg)
            _raise_if_all_failed(results, "reasoner")
            pending = []
            for (c, missing), comps in zip(batch, results):
                for idx, comp in zip(missing, _usable(comps, stats)):
                    text, repaired = repair_think_open(comp.text)
                    stats.think_repaired += repaired
                    pending.append((c, idx, dataclasses.replace(comp, text=text), repaired))
            scores = score_texts([by_id[str(c["item_id"])] for c, *_ in pending], [p.text for _, _, p, _ in pending],
                                 timeout=config.verify_timeout)
            rows = []
            for (c, idx, comp, repaired), score in zip(pending, scores):
                stats.status_counts[score["status"]] = stats.status_counts.get(score["status"], 0) + 1
                rows.append({"item_id": c["item_id"], "caption_index": c["caption_index"], "sample_index": idx,
                             "caption": c["caption"], "policy_model": c.get("policy_model"),
                             "reasoning": comp.text, "finish_reason": comp.finish_reason,
                             "prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens,
                             "chars": len(comp.text), "latency_s": share, "call_latency_s": comp.latency_s,
                             "think_repaired": repaired, "teacher_model": teacher,
                             "prompt_version": version, **score})
            stats.trajectories_new += log.append(rows)
            if progress:
                progress.advance(task, len(batch))


def run_sampling(items: Sequence[Sample], policy: Generator, reasoner: Generator, out_dir: str | Path,
                 config: SamplingConfig = SamplingConfig(), *, show_progress: bool = True,
                 prompts: PromptConfig | None = None) -> SamplingStats:
    """Sample (or finish sampling) captions and reasoning for `items` into `out_dir`; `prompts`
    replaces the built-in caption / reasoning prompts (recipe section `prompts`)."""
    from rich.progress import Progress

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_meta(out, {"config": dataclasses.asdict(config), "prompt_version": prompt_version(prompts),
                      "policy_model": _model_name(policy), "reasoner_model": _model_name(reasoner),
                      "policy": policy.describe(), "reasoner": reasoner.describe()})
    stats = SamplingStats()
    with Progress(disable=not show_progress) as progress:
        sample_captions(items, policy, out, config, stats, progress, prompts)
        sample_reasoning(items, reasoner, out, config, stats, progress, prompts)
    stats.captions_total = sum(1 for _ in JsonlLog(out / CAPTIONS_FILE).read())
    stats.trajectories_total = sum(1 for _ in JsonlLog(out / TRAJECTORIES_FILE).read())
    return stats


def read_trajectories(out_dir: str | Path) -> list[dict[str, Any]]:
    """All trajectory records of a sampling directory (raises if there are none)."""
    path = Path(out_dir) / TRAJECTORIES_FILE
    rows = list(JsonlLog(path).read())
    if not rows:
        raise RecordError(f"{path}: no trajectories; run the sample stage first")
    return rows
