"""The one interface every generation backend implements (harness and SOPHIA sampling share it).

Messages are OpenAI-style chat dicts. Content is either a string or a list of parts:
`{"type": "text", "text": ...}` and `{"type": "image", "image": <path str or PIL.Image>}`.
Each backend converts images to its own form (processor inputs, data URLs, vLLM `image_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

Message = dict[str, Any]
Conversation = list[Message]


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings for one generate call."""

    n: int = 1
    """Samples per prompt."""
    temperature: float = 1.0
    """0 means greedy decoding."""
    top_p: float = 1.0
    """Nucleus sampling mass, in (0, 1]."""
    max_new_tokens: int = 16384
    """Cap on generated tokens per sample; hitting it gives finish_reason `length`."""
    seed: int | None = 0
    """Base seed; backends derive per-prompt seeds from it where they can, for reproducibility."""
    stop: tuple[str, ...] = ()
    """Extra stop strings."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"GenerationConfig.n must be >= 1, got {self.n}; ask for at least one sample")
        if self.temperature < 0:
            raise ValueError(f"GenerationConfig.temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"GenerationConfig.top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"GenerationConfig.max_new_tokens must be >= 1, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Completion:
    """One generated sample."""

    text: str
    finish_reason: str
    """`stop` (natural end or stop string), `length` (hit max_new_tokens), or `error`."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    error: str | None = None
    """Set when finish_reason is `error`: the backend failed for this prompt; never scored as wrong."""


class BackendError(RuntimeError):
    """A backend could not be created or reached (bad model path, server down, missing extra)."""


@runtime_checkable
class Generator(Protocol):
    """Batched chat generation: one list of `config.n` completions per conversation, in order."""

    name: str
    """Backend name (`transformers`, `vllm`, `openai`, ...)."""

    def describe(self) -> dict[str, Any]:
        """Model id/path, backend and library versions, for the run record."""
        ...

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[list[Completion]]:
        ...


# Optional capabilities, used by `serve` when a generator has them (the transformers backend does):
# - `supports_cancel = True`: `generate(..., cancel=[threading.Event per conversation])` stops a
#   conversation between decoding steps once its event is set; its completions are `error`
#   with error "cancelled" (token count kept).
# - `count_prompt_tokens(conversation) -> int`: prompt length after the chat template, for limits.
