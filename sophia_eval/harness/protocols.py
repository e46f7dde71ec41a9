"""Evaluation protocol presets: decoding and prompting settings that define how numbers were made.

A protocol is recorded in full in every run's config, so a number always carries its protocol.
Presets are frozen; any field is overridden with `protocol.replace(field=value)` (the CLI maps
`--temperature`, `--top-p`, `--max-new-tokens`, `--n`, `--seed`, `--system-prompt`, `--no-hint`).

- `sophia`: the SOPHIA paper's evaluation protocol (arXiv 2507.16814): zero-shot, temperature
  1.0, top-p 0.8, up to 16384 new tokens, the benchmark's hint prepended, the model's own default
  system prompt (how the paper ran every baseline).
- `sophia_model`: `sophia` plus the slow-thinking system prompt, which the paper used for SOPHIA-
  trained models at evaluation.
- `greedy`: deterministic decoding (temperature 0), for smoke tests and reproducible checks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sophia_eval.backends.base import GenerationConfig


@dataclass(frozen=True)
class Protocol:
    """Decoding and prompting settings of an evaluation."""

    name: str
    """Preset this protocol started from (kept after overrides; overrides are in the other fields)."""
    temperature: float = 1.0
    """Sampling temperature; 0 means greedy."""
    top_p: float = 1.0
    """Nucleus sampling mass, in (0, 1]."""
    max_new_tokens: int = 16384
    """Cap on generated tokens per sample."""
    n: int = 1
    """Samples per item (pass@k needs n >= k)."""
    seed: int = 0
    """Base sampling seed, recorded so a run can be reproduced."""
    system_prompt: str | None = None
    """Name in `prompts.SYSTEM_PROMPTS` (e.g. `sophia_slow_thinking`), or None for the model's default."""
    use_hint: bool = True
    """Prepend the benchmark's own hint to the question (SOPHIA protocol)."""
    prompt_template: str | None = None
    """Prompt template name; None uses the benchmark's registry default."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("Protocol.name must be non-empty; use the preset name you started from")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1 sample per item, got {self.n}")
        if self.temperature == 0 and self.n > 1:
            raise ValueError(
                f"greedy decoding (temperature 0) with n={self.n} repeats one answer {self.n} times; "
                "use n=1 or a temperature > 0"
            )

    def replace(self, **overrides: Any) -> "Protocol":
        """A copy with the given fields changed (None values are ignored: 'not overridden')."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(
                f"unknown protocol field(s) {sorted(unknown)}; fields are "
                f"{[f.name for f in dataclasses.fields(self)]}"
            )
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def generation_config(self) -> GenerationConfig:
        return GenerationConfig(
            n=self.n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            seed=self.seed,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, Protocol] = {
    "sophia": Protocol(name="sophia", temperature=1.0, top_p=0.8, max_new_tokens=16384),
    "sophia_model": Protocol(
        name="sophia_model",
        temperature=1.0,
        top_p=0.8,
        max_new_tokens=16384,
        system_prompt="sophia_slow_thinking",
    ),
    "greedy": Protocol(name="greedy", temperature=0.0, top_p=1.0, max_new_tokens=16384),
}


def get_protocol(name: str, **overrides: Any) -> Protocol:
    """The preset `name` with `overrides` applied; unknown names raise listing the presets."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; presets are {sorted(PRESETS)}") from None
    return base.replace(**overrides)
