"""Hugging Face transformers backend: batched chat generation on CPU or GPU.

The model's own chat template (from its processor or tokenizer) formats every conversation;
VLMs get their images through their processor. Batches are left-padded (decoder-only models
continue from the right end). Decoding is the backend's own loop (`decode_loop.py`: finished
sequences leave the batch, one prefill per prompt for its `n` samples) for the model families it
supports, else HF `generate` with `num_return_sequences` (option `decode`; `describe()` says which).

Prompts are sorted by approximate length before batching (less padding); results come back in
input order. Reproducibility: the RNG is seeded with `config.seed + input index of the batch's
first prompt` before each batch, so the same inputs with the same `batch_size` give the same samples. A different
batch size changes which random numbers each prompt sees (unavoidable with batched sampling).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from sophia_eval.backends.base import BackendError, Completion, Conversation, GenerationConfig
from sophia_eval.backends.decode_loop import decode, unsupported_reason
from sophia_eval.backends.heap import release_free_memory
from sophia_eval.backends.hf_loading import check_model_path, load_processor, tokenizer_of


@dataclass(frozen=True)
class TransformersOptions:
    """How to load and batch a transformers model."""

    batch_size: int = 8
    """Prompts per `generate` call (each yields `n` sequences)."""
    device: str = "auto"
    """`auto` (first GPU if any, else CPU), `cpu`, `cuda`, `cuda:1`, ... or `device_map:auto`
    to spread a large model over all GPUs with accelerate."""
    dtype: str = "auto"
    """`auto` (bfloat16 on GPU, float32 on CPU), `float32`, `bfloat16` or `float16`."""
    gguf_file: str | None = None
    """GGUF file name inside the model directory / hub repo (set automatically for a .gguf path)."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) to pin."""
    trust_remote_code: bool = False
    """Allow model code from the hub repository (needed by some VLMs, e.g. InternVL)."""
    attn_implementation: str | None = None
    """e.g. `sdpa`, `eager`, `flash_attention_2`; None lets transformers choose."""
    sort_by_length: bool = True
    """Batch prompts of similar length together (less padding); results keep the input order."""
    image_max_pixels: int | None = None
    """Cap on pixels per image for dynamic-resolution processors (Qwen2-VL family: `max_pixels`);
    fewer vision tokens, faster on CPU. None keeps the checkpoint's setting. Recorded in describe()."""
    decode: str = "auto"
    """`auto`: the backend's own decode loop, which drops finished sequences from the batch
    (`decode_loop.py`; much faster when answer lengths vary), for the model families it supports,
    else HF `generate`; `generate`: always HF `generate`. Recorded in describe()."""

    def __post_init__(self) -> None:
        if self.decode not in {"auto", "generate"}:
            raise ValueError(f"TransformersOptions.decode must be auto or generate, got {self.decode!r}")
        if self.batch_size < 1:
            raise ValueError(f"TransformersOptions.batch_size must be >= 1, got {self.batch_size}")
        if self.image_max_pixels is not None and self.image_max_pixels < 28 * 28:
            raise ValueError(f"TransformersOptions.image_max_pixels must be >= 784 (one 28x28 patch), got {self.image_max_pixels}")
        if self.dtype not in {"auto", "float32", "bfloat16", "float16"}:
            raise ValueError(
                f"TransformersOptions.dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}"
            )


def _split_gguf(model: str, gguf_file: str | None) -> tuple[str, str | None]:
    """A path to a .gguf file becomes (its directory, its file name), as transformers expects."""
    if model.endswith(".gguf") and gguf_file is None:
        p = Path(model).expanduser()
        return str(p.parent), p.name
    return model, gguf_file


def _is_vision_config(config: Any) -> bool:
    from transformers import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING

    return type(config) in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING or getattr(config, "vision_config", None) is not None


def _load_image(ref: Any) -> Any:
    """A PIL image from a PIL image or a local path; errors name the path."""
    from PIL import Image

    if isinstance(ref, Image.Image):
        return ref.convert("RGB") if ref.mode != "RGB" else ref
    if isinstance(ref, (str, Path)):
        try:
            with Image.open(ref) as im:
                return im.convert("RGB")
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot open image {str(ref)!r}: {exc}") from exc
    raise ValueError(f"image part must be a path or PIL.Image, got {type(ref).__name__}")


def _prepare(conv: Conversation, *, vision: bool) -> Conversation:
    """Normalise one conversation for the chat template: load images, shape content per model kind."""
    out: Conversation = []
    for msg in conv:
        content = msg.get("content")
        if isinstance(content, str):
            parts = [{"type": "text", "text": content}]
        else:
            parts = list(content or [])
        if not vision:
            if any(p.get("type") in ("image", "image_url") for p in parts):
                raise ValueError("this model is text-only but the conversation contains an image")
            out.append({"role": msg["role"], "content": "".join(p.get("text", "") for p in parts)})
            continue
        new_parts = []
        for p in parts:
            if p.get("type") == "image":
                new_parts.append({"type": "image", "image": _load_image(p.get("image"))})
            elif p.get("type") == "text":
                new_parts.append({"type": "text", "text": p.get("text", "")})
            else:
                raise ValueError(f"unsupported content part type {p.get('type')!r}; expected text or image")
        out.append({"role": msg["role"], "content": new_parts})
    return out


class TransformersGenerator:
    """Generator over a local directory, a hub id or a GGUF file, loaded with transformers."""

    name = "transformers"
    supports_cancel = True
    """`generate(..., cancel=[Event, ...])` stops a conversation between decoding steps once its event is set."""

    def __init__(self, model: str, options: TransformersOptions | None = None) -> None:
        self.model_ref = str(model)
        self.options = options or TransformersOptions()
        check_model_path(self.model_ref)
        self._path, self._gguf = _split_gguf(self.model_ref, self.options.gguf_file)
        self._load()

    # -- loading -----------------------------------------------------------------------------
    def _load(self) -> None:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer

        opts = self.options
        common: dict[str, Any] = {"revision": opts.revision, "trust_remote_code": opts.trust_remote_code}
        if self._gguf:
            common["gguf_file"] = self._gguf
        try:
            config = AutoConfig.from_pretrained(self._path, **common)
        except (OSError, ValueError) as exc:
            raise BackendError(
                f"cannot load model config from {self.model_ref!r}: {exc}. Expected a local model directory, "
                "a .gguf file or a hub id reachable from this machine"
            ) from exc
        self.vision = _is_vision_config(config)
        use_map = opts.device == "device_map:auto"
        if opts.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        else:
            self.device = "cuda" if use_map else opts.device
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            build = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise BackendError(
                f"device {opts.device!r} needs a CUDA GPU but {build} (torch {torch.__version__}); "
                "use the option device=cpu (or device=auto), or install a CUDA build of torch"
            )
        if opts.dtype == "auto":
            dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, opts.dtype)
        # Reuse the parsed config: for a GGUF file every from_pretrained re-reads the whole file.
        model_kwargs: dict[str, Any] = {**common, "dtype": dtype, "config": config}
        if opts.attn_implementation:
            model_kwargs["attn_implementation"] = opts.attn_implementation
        if use_map:
            model_kwargs["device_map"] = "auto"
        auto_cls = AutoModelForImageTextToText if self.vision else AutoModelForCausalLM
        try:
            if self.vision:
                self.processor = load_processor(self._path, **{k: v for k, v in common.items() if v is not None})
            else:
                self.processor = AutoTokenizer.from_pretrained(self._path, **common)
            self.model = auto_cls.from_pretrained(self._path, **model_kwargs)
        except (OSError, ValueError, ImportError) as exc:
            raise BackendError(f"cannot load {auto_cls.__name__} from {self.model_ref!r}: {exc}") from exc
        if not use_map:
            self.model.to(self.device)
        self.model.eval()
        self.tokenizer = tokenizer_of(self.processor)
        if opts.image_max_pixels:
            _cap_pixels(self.processor, opts.image_max_pixels, self.model_ref)
        if getattr(self.tokenizer, "chat_template", None) is None and getattr(self.processor, "chat_template", None) is None:
            raise BackendError(
                f"model {self.model_ref!r} has no chat template (tokenizer_config.json / chat_template.jinja); "
                "use an instruct/chat checkpoint or add its template"
            )
        # Decoder-only batching: pad on the left so every prompt ends where generation starts.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._eos_ids = self._stop_token_ids()
        if opts.decode == "generate":
            self._loop_off: str | None = "option decode=generate"
        elif use_map:  # layers on several devices: the loop keeps its bookkeeping on one
            self._loop_off = "device_map:auto"
        else:
            self._loop_off = unsupported_reason(self.model)

    def _stop_token_ids(self) -> set[int]:
        ids: set[int] = set()
        for src in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(src, int):
                ids.add(src)
            elif src:
                ids.update(int(i) for i in src)
        return ids

    def describe(self) -> dict[str, Any]:
        import torch
        import transformers

        return {
            "backend": self.name,
            "model": self.model_ref,
            "gguf_file": self._gguf,
            "model_class": type(self.model).__name__,
            "model_type": getattr(self.model.config, "model_type", None),
            "vision": self.vision,
            "device": self.device,
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "batch_size": self.options.batch_size,
            "sort_by_length": self.options.sort_by_length,
            "decode": "loop" if self._loop_off is None else f"generate ({self._loop_off})",
            "image_max_pixels": self.options.image_max_pixels,
            "revision": self.options.revision,
            "commit_hash": getattr(self.model.config, "_commit_hash", None),
            "local_fingerprint": _fingerprint(self.model_ref),
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
        }

    # -- generation --------------------------------------------------------------------------
    def count_prompt_tokens(self, conv: Conversation) -> int:
        """Tokens of one conversation after the chat template, image tokens included."""
        return int(self._encode([_prepare(conv, vision=self.vision)])["attention_mask"].sum())

    def generate(
        self, conversations: Sequence[Conversation], config: GenerationConfig, cancel: Sequence[Any] | None = None
    ) -> list[list[Completion]]:
        """`cancel`: optional `threading.Event` per conversation (e.g. its HTTP client went away); a set
        event stops that conversation's decoding at the next step and yields `error` completions."""
        results: list[list[Completion] | None] = [None] * len(conversations)
        prepared: list[tuple[int, Conversation]] = []
        for i, conv in enumerate(conversations):
            try:
                prepared.append((i, _prepare(conv, vision=self.vision)))
            except (ValueError, KeyError, TypeError) as exc:
                results[i] = _errors(config.n, f"conversation {i}: {exc}")
        if self.options.sort_by_length:
            # Similar lengths share a batch: less padding, less wasted compute. Output order is kept.
            prepared.sort(key=lambda item: _approx_length(item[1]))
        bs = self.options.batch_size
        for start in range(0, len(prepared), bs):
            chunk = prepared[start : start + bs]
            events = [cancel[i] for i, _ in chunk] if cancel is not None else None
            try:
                outs = self._generate_batch([c for _, c in chunk], config, seed_offset=chunk[0][0], cancel=events)
            except Exception as exc:  # noqa: BLE001 - isolate the failing prompt, keep the rest
                outs = [self._generate_one(i, c, config, exc if len(chunk) == 1 else None,
                                           None if cancel is None else [cancel[i]]) for i, c in chunk]
            for (i, _), comp in zip(chunk, outs):
                results[i] = comp
            release_free_memory()  # the batch's KV cache, else kept by the C heap (heap.py)
        return [r if r is not None else _errors(config.n, "not generated") for r in results]

    def _generate_one(
        self, i: int, conv: Conversation, config: GenerationConfig, known: Exception | None, cancel: Any = None
    ) -> list[Completion]:
        """Retry one prompt alone after its batch failed; its own failure becomes error completions."""
        if known is None:
            try:
                return self._generate_batch([conv], config, seed_offset=i, cancel=cancel)[0]
            except Exception as exc:  # noqa: BLE001
                known = exc
        return _errors(config.n, f"conversation {i}: {type(known).__name__}: {known}")

    def _encode(self, batch: list[Conversation]) -> Any:
        # Processors take tokenizer/image settings in `processor_kwargs`; tokenizers take `padding`.
        padding = {"processor_kwargs": {"padding": True}} if self.processor is not self.tokenizer else {"padding": True}
        return self.processor.apply_chat_template(
            batch, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt", **padding
        )

    def _generate_batch(
        self, batch: list[Conversation], config: GenerationConfig, *, seed_offset: int, cancel: Sequence[Any] | None = None
    ) -> list[list[Completion]]:
        from transformers import set_seed

        if cancel is not None and all(e.is_set() for e in cancel):
            return [_errors(config.n, "cancelled") for _ in batch]

        enc = self._encode(batch).to(self.model.device)
        prompt_tokens = enc["attention_mask"].sum(dim=1).tolist()
        # Greedy is deterministic: decode once and repeat it n times instead of n identical beams.
        n_seq = 1 if config.greedy else config.n
        if config.seed is not None:
            set_seed(config.seed + seed_offset)
        t0 = time.perf_counter()
        looped = self._loop_off is None and not config.stop
        if looped:
            new = decode(self.model, enc, n=n_seq, config=config, eos_ids=self._eos_ids, cancel=cancel)
        else:
            new = self._hf_generate(enc, n_seq, config, cancel)
        latency = time.perf_counter() - t0
        completions: list[list[Completion]] = []
        for p in range(len(batch)):
            rows = new[p * n_seq : (p + 1) * n_seq]
            comps = [self._completion(row, config, prompt_tokens[p], latency, padded=not looped) for row in rows]
            if cancel is not None and cancel[p].is_set():
                # Keep the token count: it shows where decoding stopped.
                comps = [replace(c, text="", finish_reason="error", error="cancelled") for c in comps]
            completions.append(comps * config.n if n_seq == 1 and config.n > 1 else comps)
        return completions

    def _hf_generate(self, enc: Any, n_seq: int, config: GenerationConfig, cancel: Sequence[Any] | None) -> list[list[int]]:
        import torch

        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "do_sample": not config.greedy,
            "num_return_sequences": n_seq,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if not config.greedy:
            gen_kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=0)
        if config.stop:
            # Note: transformers matches stop strings against the prompt's tail too (a stop of
            # "\n\n" fires on the first "\n" after a prompt ending in "\n"); vLLM does not.
            gen_kwargs.update(stop_strings=list(config.stop), tokenizer=self.tokenizer)
        if cancel is not None:
            gen_kwargs["stopping_criteria"] = _cancel_criteria(cancel, n_seq)
        with torch.inference_mode():
            out = self.model.generate(**enc, **gen_kwargs)
        return out[:, enc["input_ids"].shape[1]:].tolist()

    def _completion(
        self, row: list[int], config: GenerationConfig, prompt_tokens: int, latency: float, *, padded: bool = True
    ) -> Completion:
        """`padded`: rows from `generate`, where finished rows go on as pad tokens (the decode
        loop's rows end where their sequence ends: a pad token there was generated)."""
        pad = self.tokenizer.pad_token_id
        end = next((j for j, t in enumerate(row) if t in self._eos_ids), None)
        if end is not None:
            tokens, finish = row[: end + 1], "stop"
        else:
            n = len(row)
            while padded and n and row[n - 1] == pad and pad not in self._eos_ids:
                n -= 1
            tokens = row[:n]
            finish = "length" if n >= config.max_new_tokens else "stop"
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        for s in config.stop:
            cut = text.find(s)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        return Completion(
            text=text, finish_reason=finish, prompt_tokens=int(prompt_tokens), completion_tokens=len(tokens),
            latency_s=latency,
        )


def _fingerprint(model: str) -> str | None:
    """sha256 over config.json and the names and sizes of weight files of a local model (cheap:
    tells two checkpoints apart in run records without hashing gigabytes); None for hub ids."""
    import hashlib

    p = Path(model).expanduser()
    if not p.exists():
        return None
    files = [p] if p.is_file() else sorted(
        f for f in p.iterdir() if f.suffix in (".safetensors", ".bin", ".gguf", ".pt") or f.name == "config.json"
    )
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{f.stat().st_size}".encode())
        if f.name == "config.json":
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _approx_length(conv: Conversation) -> int:
    """Characters of text plus a flat allowance per image: a cheap proxy for prompt tokens."""
    total = 0
    for msg in conv:
        content = msg["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        total += sum(len(p.get("text", "")) if p.get("type") == "text" else 1000 for p in parts)
    return total


def _cap_pixels(processor: Any, max_pixels: int, model: str) -> None:
    """Lower `longest_edge` (total pixels) of a dynamic-resolution image processor."""
    ip = getattr(processor, "image_processor", None)
    size = getattr(ip, "size", None)
    if size is None or getattr(size, "longest_edge", None) is None and not (isinstance(size, dict) and "longest_edge" in size):
        raise BackendError(
            f"image_max_pixels is set but the image processor of {model!r} ({type(ip).__name__}) has no pixel budget; "
            "drop the option for this model"
        )
    if isinstance(size, dict):
        ip.size = {**size, "longest_edge": max_pixels, "shortest_edge": min(size.get("shortest_edge") or max_pixels, max_pixels)}
    else:
        size.longest_edge = max_pixels
        size.shortest_edge = min(size.shortest_edge or max_pixels, max_pixels)


def _cancel_criteria(events: Sequence[Any], n_seq: int) -> Any:
    """A stopping criterion that ends the rows of conversations whose event is set (each
    conversation owns `n_seq` consecutive rows); checked after every decoding step."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            flags = [e.is_set() for e in events for _ in range(n_seq)]
            return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([Cancelled()])


def _errors(n: int, message: str) -> list[Completion]:
    return [Completion(text="", finish_reason="error", error=message) for _ in range(n)]
