"""Any lmms-eval model wrapper behind the Generator interface, an optional extra.

`pip install 'sophia-eval[lmms]'`. `make_generator("lmms", "qwen2_vl", model_args="pretrained=...")`
looks the wrapper up by its lmms-eval name (`lmms_eval.models.get_model`) and builds it with
`create_from_arg_string(model_args, {"batch_size": ..., "device": ...})`, as lmms-eval's own
evaluator does. Conversations reach the wrapper the way lmms-eval tasks reach it: each becomes a
doc in `wrapper.task_dict[task][split][doc_id]` and a `generate_until` `Instance` whose
arguments point at it:

- chat wrappers (`is_simple = False`, lmms-eval >= 0.4): `(context, doc_to_messages, gen_kwargs,
  doc_id, task, split)`; `doc_to_messages` returns the whole conversation (system, user and
  assistant turns; images as `{"type": "image", "url": PIL.Image}`).
- simple wrappers: `(context, gen_kwargs, doc_to_visual, doc_id, task, split)`; the context is
  the user turn's text with a system message's text prepended (simple wrappers build their own
  chat prompt and take no system turn; many accept `system_prompt=` in `model_args`), and
  `doc_to_visual` returns the conversation's images. Conversations with assistant turns (or
  several user turns) cannot be expressed and become error completions.

`gen_kwargs` carry `max_new_tokens`, `temperature`, `do_sample`, `top_p` (sampling only) and
`until` (`GenerationConfig.stop`; also applied again to the returned text).

Samples: a wrapper returns one string per request, so `n` samples are `n` rounds of requests;
round `k` runs after seeding Python, NumPy and torch RNGs with `config.seed + k` (wrappers take no
per-request seed). Greedy decoding runs one round and repeats it. Reproducible for the same inputs
and wrapper batch size, as with the transformers backend.

Token counts and finish reason: taken from the wrapper's `GenerationResult.token_counts` when it
reports them (lmms-eval >= 0.6); otherwise `completion_tokens` is the wrapper tokenizer's count of
the returned text (approximate) and `prompt_tokens` is None. `length` means the count reached
`max_new_tokens`. A wrapper exception fails only the requests it concerns (a failed batch is
retried one request at a time); an empty response is an error too, since lmms-eval wrappers
commonly log a failure and return "" (option `empty_is_error`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Sequence

from sophia_eval.backends.base import BackendError, Completion, Conversation, GenerationConfig

_INSTALL = "install the lmms extra: pip install \"sophia-eval[lmms]\""
_TASK = "sophia_eval"
_SPLIT = "generate"
_SECRET_KEYS = re.compile(r"key|token|secret|password", re.IGNORECASE)


@dataclass(frozen=True)
class LMMSOptions:
    """How to build the lmms-eval wrapper (the `model` argument is its lmms-eval name)."""

    model_args: str = ""
    """lmms-eval `--model_args` string, e.g. `pretrained=/path/or/hub-id,device_map=cpu`."""
    batch_size: int | None = None
    """lmms-eval `--batch_size` (requests per wrapper batch); None keeps the wrapper's default."""
    device: str | None = None
    """lmms-eval `--device` (`cuda`, `cuda:0`, `cpu`); None keeps the wrapper's default."""
    force_simple: bool = False
    """lmms-eval `--force_simple`: use the simple wrapper of a model that also has a chat one."""
    empty_is_error: bool = True
    """An empty response becomes an error completion (wrappers return "" when they fail)."""

    def __post_init__(self) -> None:
        if not isinstance(self.model_args, str):
            raise ValueError(f"LMMSOptions.model_args must be a 'key=value,key=value' string, got {self.model_args!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"LMMSOptions.batch_size must be >= 1, got {self.batch_size}")


def _import_lmms_eval() -> Any:
    try:
        import lmms_eval.models as lmms_models
    except ImportError as exc:
        raise BackendError(
            f"the lmms backend needs lmms-eval, which is not importable ({exc}); {_INSTALL}"
        ) from exc
    return lmms_models


def _lmms_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("lmms_eval", "lmms-eval"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return None


def _redact(model_args: str) -> str:
    """model_args for the run record, with values of key/token/secret arguments hidden."""
    parts = []
    for part in model_args.split(","):
        key, sep, _ = part.partition("=")
        parts.append(f"{key}=***" if sep and _SECRET_KEYS.search(key) else part)
    return ",".join(parts)


def _text_of(content: Any) -> str:
    if isinstance(content, str) or content is None:
        return content or ""
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str) or content is None:
        return [{"type": "text", "text": content or ""}]
    return list(content)


def to_chat_doc(conv: Conversation) -> dict[str, Any]:
    """A conversation as an lmms-eval chat doc: `{"messages": [...]}` in lmms-eval's protocol form."""
    from sophia_eval.backends.transformers_backend import _load_image

    messages = []
    for msg in conv:
        content = []
        for p in _parts(msg.get("content")):
            if p.get("type") == "text":
                content.append({"type": "text", "text": p.get("text", "")})
            elif p.get("type") == "image":
                content.append({"type": "image", "url": _load_image(p.get("image"))})
            else:
                raise ValueError(f"unsupported content part type {p.get('type')!r}; expected text or image")
        messages.append({"role": msg["role"], "content": content})
    return {"messages": messages}


def to_simple_doc(conv: Conversation) -> dict[str, Any]:
    """A conversation as a simple-wrapper doc: `{"context": str, "visuals": [PIL images]}`."""
    from sophia_eval.backends.transformers_backend import _load_image

    system = [m for m in conv if m.get("role") == "system"]
    users = [m for m in conv if m.get("role") == "user"]
    others = [m.get("role") for m in conv if m.get("role") not in ("system", "user")]
    if len(users) != 1 or others:
        raise ValueError(
            "a simple lmms-eval wrapper takes one user turn (no assistant turns); "
            "use a chat wrapper (is_simple = False) for multi-turn conversations"
        )
    visuals = []
    for p in _parts(users[0].get("content")):
        if p.get("type") == "image":
            visuals.append(_load_image(p.get("image")))
        elif p.get("type") != "text":
            raise ValueError(f"unsupported content part type {p.get('type')!r}; expected text or image")
    context = _text_of(users[0].get("content"))
    sys_text = "\n\n".join(t for t in (_text_of(m.get("content")) for m in system) if t)
    if sys_text:
        context = f"{sys_text}\n\n{context}"
    return {"context": context, "visuals": visuals}


def _doc_to_messages(doc: dict[str, Any], **_: Any) -> list[dict[str, Any]]:
    return doc["messages"]


def _doc_to_visual(doc: dict[str, Any]) -> list[Any]:
    return doc["visuals"]


def _seed_all(seed: int) -> None:
    import random

    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def _unwrap(output: Any) -> tuple[Any, int | None, int | None]:
    """(text, prompt_tokens, completion_tokens) from a str, a GenerationResult or a (str, dict)."""
    counts: Any = None
    if isinstance(output, str):
        text = output
    elif hasattr(output, "text"):
        text, counts = output.text, getattr(output, "token_counts", None)
    elif isinstance(output, (tuple, list)) and len(output) == 2 and isinstance(output[0], str):
        text, counts = output
    else:
        text = output
    if isinstance(counts, dict):
        return text, counts.get("input_tokens"), counts.get("output_tokens")
    return text, getattr(counts, "input_tokens", None), getattr(counts, "output_tokens", None)


class LMMSGenerator:
    """Generator over one lmms-eval model wrapper (`lmms` subclass), built from its registry name."""

    name = "lmms"

    def __init__(self, model: str, options: LMMSOptions | None = None) -> None:
        self.model_name = str(model)
        self.options = options or LMMSOptions()
        lmms_models = _import_lmms_eval()
        o = self.options
        try:
            try:
                cls = lmms_models.get_model(self.model_name, force_simple=o.force_simple)
            except TypeError:  # lmms-eval < 0.4: no chat wrappers, get_model(name)
                cls = lmms_models.get_model(self.model_name)
        except ImportError as exc:
            raise BackendError(
                f"the lmms-eval wrapper {self.model_name!r} needs a package that is not installed ({exc}); "
                "install it in this environment"
            ) from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackendError(f"unknown lmms-eval model {self.model_name!r}: {_short(exc)}") from exc
        self.model_class = f"{cls.__module__}.{cls.__qualname__}"
        self.simple = bool(getattr(cls, "is_simple", True))
        extra = {k: v for k, v in (("batch_size", o.batch_size), ("device", o.device)) if v is not None}
        try:
            self.lm = cls.create_from_arg_string(o.model_args, extra)
        except ImportError as exc:
            raise BackendError(
                f"the lmms-eval wrapper {self.model_name!r} needs a package that is not installed ({exc})"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - wrappers raise anything (AssertionError on bad args, OSError, ...)
            raise BackendError(
                f"lmms-eval could not build {self.model_name!r} ({self.model_class}) from "
                f"model_args={_redact(o.model_args)!r}: {type(exc).__name__}: {_short(exc)}"
            ) from exc

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "backend": self.name,
            "model": self.model_name,
            "model_class": self.model_class,
            "wrapper_kind": "simple" if self.simple else "chat",
            "model_args": _redact(o.model_args),
            "batch_size": o.batch_size,
            "device": o.device,
            "lmms_eval_version": _lmms_version(),
        }

    def close(self) -> None:
        """Free the wrapper's model (lmms-eval's `clean`)."""
        lm, self.lm = getattr(self, "lm", None), None
        if lm is not None and hasattr(lm, "clean"):
            try:
                lm.clean()
            except Exception:  # noqa: BLE001 - best effort at shutdown
                pass

    # -- generation --------------------------------------------------------------------------
    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[list[Completion]]:
        if self.lm is None:
            raise BackendError("this lmms generator was closed")
        docs: list[dict[str, Any] | None] = [None] * len(conversations)
        samples: list[list[Completion]] = [[] for _ in conversations]
        for i, conv in enumerate(conversations):
            try:
                docs[i] = to_simple_doc(conv) if self.simple else to_chat_doc(conv)
            except (ValueError, KeyError, TypeError) as exc:
                samples[i] = _errors(config.n, f"conversation {i}: {exc}")
        valid = [i for i, d in enumerate(docs) if d is not None]
        if valid:
            # The wrapper finds each doc at task_dict[task][split][doc_id]; doc_id = input index.
            self.lm.task_dict[_TASK] = {_SPLIT: docs}
            rounds = 1 if config.greedy else config.n
            for k in range(rounds):
                seed = None if config.seed is None else config.seed + k
                for i, comp in zip(valid, self._run(valid, config, seed)):
                    samples[i].append(comp)
            if rounds == 1 and config.n > 1:
                for i in valid:
                    samples[i] = samples[i] * config.n
        return samples

    def _gen_kwargs(self, config: GenerationConfig) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "temperature": float(config.temperature),
            "do_sample": not config.greedy,
        }
        if not config.greedy:
            kwargs["top_p"] = float(config.top_p)
        if config.stop:
            kwargs["until"] = list(config.stop)
        return kwargs

    def _instance(self, i: int, config: GenerationConfig) -> Any:
        from lmms_eval.api.instance import Instance

        gen_kwargs = self._gen_kwargs(config)  # a fresh dict each: wrappers pop `until` from it
        if self.simple:
            args = (self.lm.task_dict[_TASK][_SPLIT][i]["context"], gen_kwargs, _doc_to_visual, i, _TASK, _SPLIT)
        else:
            args = ("", _doc_to_messages, gen_kwargs, i, _TASK, _SPLIT)
        return Instance(
            request_type="generate_until", arguments=args, idx=0,
            metadata={"task": _TASK, "doc_id": i, "repeats": 1, "split": _SPLIT},
        )

    def _run(self, ids: list[int], config: GenerationConfig, seed: int | None) -> list[Completion]:
        """One completion per id; a failing batch is retried one request at a time."""
        if seed is not None:
            _seed_all(seed)
        t0 = time.perf_counter()
        try:
            outs = self.lm.generate_until([self._instance(i, config) for i in ids])
            if len(outs) != len(ids):
                raise RuntimeError(f"generate_until returned {len(outs)} results for {len(ids)} requests")
        except Exception as exc:  # noqa: BLE001 - isolate the failing request, keep the rest
            if len(ids) == 1:
                return [_error(f"conversation {ids[0]}: {type(exc).__name__}: {_short(exc)}")]
            return [self._run([i], config, seed)[0] for i in ids]
        latency = time.perf_counter() - t0
        return [self._completion(out, config, latency) for out in outs]

    def _completion(self, out: Any, config: GenerationConfig, latency: float) -> Completion:
        text, prompt_tokens, completion_tokens = _unwrap(out)
        if not isinstance(text, str):
            return _error(f"the lmms-eval wrapper returned {type(text).__name__}, expected a string")
        if not text and self.options.empty_is_error:
            return _error(
                "the lmms-eval wrapper returned an empty response (wrappers return '' when generation "
                "fails; see the lmms-eval log)"
            )
        finish = None
        for s in config.stop:
            cut = text.find(s)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        if completion_tokens is None:
            completion_tokens = self._count_tokens(text)
        if finish is None:
            finish = "length" if completion_tokens is not None and completion_tokens >= config.max_new_tokens else "stop"
        return Completion(
            text=text, finish_reason=finish, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            latency_s=latency,
        )

    def _count_tokens(self, text: str) -> int | None:
        tok = getattr(self.lm, "tokenizer", None)
        if tok is None or not hasattr(tok, "encode"):
            return None
        try:
            return len(tok.encode(text, add_special_tokens=False))
        except Exception:  # noqa: BLE001 - some wrappers expose a tokenizer with another signature
            return None


def _short(exc: BaseException, limit: int = 500) -> str:
    msg = str(exc)
    return msg if len(msg) <= limit else msg[:limit] + " ..."


def _error(message: str) -> Completion:
    return Completion(text="", finish_reason="error", error=message)


def _errors(n: int, message: str) -> list[Completion]:
    return [_error(message) for _ in range(n)]
