"""Generation backends behind one `Generator` interface; `make_generator` picks and builds one.

Backends are imported lazily so `import sophia_eval` never pulls torch, transformers or vllm.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sophia_eval.backends.base import BackendError, Completion, GenerationConfig, Generator

BACKENDS: tuple[str, ...] = ("transformers", "vllm", "openai", "lmms")


def _options(cls: type, backend: str, options: dict[str, Any]) -> Any:
    """Build the backend's frozen options dataclass, naming unknown keys and the valid ones."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise BackendError(
            f"unknown option(s) {unknown} for the {backend} backend; valid options: {sorted(known)}"
        )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise BackendError(f"invalid {backend} backend options: {exc}") from exc


def make_generator(backend: str, model: str, **options: Any) -> Generator:
    """A ready generator for `model` (local dir, .gguf file, hub id, or served model name).

    `options` are the fields of the backend's options dataclass: `TransformersOptions`,
    `VLLMOptions`, `OpenAIOptions` (`base_url`, `api_key`, `concurrency`, ...) or `LMMSOptions`
    (`model_args`, `batch_size`, ...; there `model` is an lmms-eval model name such as `qwen2_vl`).
    Raises BackendError for an unknown backend, a missing optional dependency (naming the extra
    to install), a bad model path or an unreachable server.
    """
    if backend == "transformers":
        from sophia_eval.backends.transformers_backend import TransformersGenerator, TransformersOptions

        return TransformersGenerator(model, _options(TransformersOptions, backend, options))
    if backend == "openai":
        from sophia_eval.backends.openai_backend import OpenAIGenerator, OpenAIOptions

        return OpenAIGenerator(model, _options(OpenAIOptions, backend, options))
    if backend == "vllm":
        from sophia_eval.backends.vllm_backend import VLLMGenerator, VLLMOptions

        return VLLMGenerator(model, _options(VLLMOptions, backend, options))
    if backend == "lmms":
        from sophia_eval.backends.lmms_backend import LMMSGenerator, LMMSOptions

        return LMMSGenerator(model, _options(LMMSOptions, backend, options))
    raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "BackendError", "Completion", "GenerationConfig", "Generator", "make_generator"]
