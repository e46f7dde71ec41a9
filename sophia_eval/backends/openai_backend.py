"""Any OpenAI-compatible chat server (vLLM serve, SGLang, LMDeploy, hosted APIs) as a Generator.

Requests run concurrently with httpx's async client, bounded by `concurrency`. Each of the `n`
samples of a prompt is its own request (seed `config.seed + prompt index * n + k`), so every
sample carries exact token counts and is retried on its own. Transient failures (connection
errors, timeouts, HTTP 408/429/5xx) are retried with exponential backoff and jitter; what still
fails becomes `Completion(finish_reason="error", error=...)`, never empty text scored as wrong.
So do odd 200 answers: content that is not text (a list of text parts is joined), and empty
content with finish `stop`. Each attempt has one deadline (`timeout_s`) over connect + whole body.
A server that cannot be reached at all raises BackendError naming the URL: at construction
(a quick `GET /models`), and from `generate` when no request of the call could connect.
"""

from __future__ import annotations

import asyncio
import base64
import io
import mimetypes
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from sophia_eval.backends.base import BackendError, Completion, Conversation, GenerationConfig

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class OpenAIOptions:
    """Where the server is and how hard to push it."""

    base_url: str = "http://127.0.0.1:8000/v1"
    """API root including the version prefix, e.g. `http://host:8000/v1`."""
    api_key: str | None = None
    """Bearer token; None reads `OPENAI_API_KEY` from the environment (may be unset for local servers)."""
    concurrency: int = 32
    """Requests in flight at once."""
    timeout_s: float = 600.0
    """Deadline of one request attempt: connect, send and the whole response body (long reasoning
    traces take minutes). A server trickling bytes cannot stretch it."""
    connect_timeout_s: float = 5.0
    """Connect timeout; also bounds the reachability check at start."""
    max_retries: int = 4
    """Retries of a transient failure (so up to max_retries + 1 attempts)."""
    backoff_s: float = 1.0
    """First retry delay; doubles each retry, with +-25% jitter."""
    max_backoff_s: float = 30.0
    """Cap on a single retry delay."""
    check_server: bool = True
    """GET `/models` when the generator is created, to fail fast on a wrong URL or a down server."""
    max_tokens_field: str = "max_tokens"
    """Request field for the token cap; `max_completion_tokens` for APIs that reject `max_tokens`."""
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    """Extra request fields merged into every request (e.g. `top_k`, `chat_template_kwargs`)."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"OpenAIOptions.base_url must start with http:// or https://, got {self.base_url!r}")
        if self.concurrency < 1:
            raise ValueError(f"OpenAIOptions.concurrency must be >= 1, got {self.concurrency}")
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ValueError("OpenAIOptions.timeout_s and connect_timeout_s must be > 0 seconds")
        if self.max_retries < 0 or self.backoff_s < 0:
            raise ValueError("OpenAIOptions.max_retries and backoff_s must be >= 0")
        if self.max_tokens_field not in ("max_tokens", "max_completion_tokens"):
            raise ValueError(
                f"OpenAIOptions.max_tokens_field must be max_tokens or max_completion_tokens, got {self.max_tokens_field!r}"
            )


def image_to_url(ref: Any) -> str:
    """A data URL for a PIL image or local path; http(s)/data URLs pass through unchanged."""
    if isinstance(ref, str) and ref.startswith(("http://", "https://", "data:")):
        return ref
    if isinstance(ref, (str, Path)):
        path = Path(ref)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read image {str(path)!r}: {exc}") from exc
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    if hasattr(ref, "save"):  # PIL.Image
        buf = io.BytesIO()
        ref.save(buf, format="PNG")
        return f"data:image/png;base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
    raise ValueError(f"image part must be a path, URL or PIL.Image, got {type(ref).__name__}")


def to_openai_messages(conv: Conversation) -> list[dict[str, Any]]:
    """Contract messages -> OpenAI chat messages (image parts become `image_url` data URLs)."""
    out = []
    for msg in conv:
        content = msg.get("content")
        if isinstance(content, str) or content is None:
            out.append({"role": msg["role"], "content": content or ""})
            continue
        parts = []
        for p in content:
            kind = p.get("type")
            if kind == "text":
                parts.append({"type": "text", "text": p.get("text", "")})
            elif kind == "image":
                parts.append({"type": "image_url", "image_url": {"url": image_to_url(p.get("image"))}})
            elif kind == "image_url":
                parts.append(p)
            else:
                raise ValueError(f"unsupported content part type {kind!r}; expected text or image")
        out.append({"role": msg["role"], "content": parts})
    return out


class _Unreachable(Exception):
    """Every attempt of a request failed to connect."""


class _Rejected(Exception):
    """The server refused the request as invalid (HTTP 4xx other than 408/409/429)."""


class OpenAIGenerator:
    """Generator that sends chat completions to an OpenAI-compatible HTTP server."""

    name = "openai"

    def __init__(self, model: str, options: OpenAIOptions | None = None) -> None:
        self.options = options or OpenAIOptions()
        self.base_url = self.options.base_url.rstrip("/")
        key = self.options.api_key if self.options.api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.server_models: list[str] = []
        if self.options.check_server:
            self.server_models = self._list_models()
        if model in ("", "auto"):
            if not self.server_models:
                raise BackendError(f"model 'auto' needs a server that lists its models at {self.base_url}/models")
            model = self.server_models[0]
        self.model = model

    def _list_models(self) -> list[str]:
        import httpx

        url = f"{self.base_url}/models"
        timeout = httpx.Timeout(self.options.connect_timeout_s * 2, connect=self.options.connect_timeout_s)
        try:
            resp = httpx.get(url, headers=self._headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise BackendError(
                f"cannot reach the OpenAI-compatible server at {url}: {type(exc).__name__}: {exc}. "
                "Is the server running, and is --base-url right (it must include /v1)?"
            ) from exc
        if resp.status_code in (401, 403):
            raise BackendError(f"server at {url} refused the API key (HTTP {resp.status_code}); set OPENAI_API_KEY")
        if resp.status_code != 200:
            return []  # some hosted APIs do not list models; generation may still work
        try:
            return [m["id"] for m in resp.json().get("data", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return []

    def describe(self) -> dict[str, Any]:
        import httpx

        return {
            "backend": self.name,
            "model": self.model,
            "base_url": self.base_url,
            "server_models": self.server_models,
            "concurrency": self.options.concurrency,
            "timeout_s": self.options.timeout_s,
            "max_retries": self.options.max_retries,
            "httpx_version": httpx.__version__,
        }

    # -- generation --------------------------------------------------------------------------
    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[list[Completion]]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._agenerate(conversations, config))
        # Called from inside an event loop (e.g. a notebook): run ours in a worker thread.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self._agenerate(conversations, config)).result()

    async def _agenerate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[list[Completion]]:
        import httpx

        opts = self.options
        timeout = httpx.Timeout(opts.timeout_s, connect=opts.connect_timeout_s)
        limits = httpx.Limits(max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency)
        sem = asyncio.Semaphore(opts.concurrency)
        results: list[list[Completion]] = [[] for _ in conversations]
        unreachable: list[str] = []
        rejected: list[str] = []

        async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=self._headers) as client:

            async def one(i: int, k: int, messages: list[dict[str, Any]]) -> Completion:
                seed = None if config.seed is None else config.seed + i * config.n + k
                async with sem:
                    try:
                        return await self._request(client, messages, config, seed)
                    except _Unreachable as exc:
                        unreachable.append(str(exc))
                        return _error(str(exc))
                    except _Rejected as exc:
                        rejected.append(str(exc))
                        return _error(str(exc))

            tasks: list[tuple[int, Any]] = []
            for i, conv in enumerate(conversations):
                try:
                    messages = to_openai_messages(conv)
                except ValueError as exc:
                    results[i] = [_error(f"conversation {i}: {exc}")] * config.n
                    continue
                tasks.extend((i, one(i, k, messages)) for k in range(config.n))
            done = await asyncio.gather(*(t for _, t in tasks))
        for (i, _), comp in zip(tasks, done):
            results[i].append(comp)
        if tasks and len(unreachable) == len(tasks):
            raise BackendError(f"OpenAI-compatible server at {self.base_url} is unreachable: {unreachable[0]}")
        # Every request refused as invalid is a configuration problem (model name, max_tokens
        # above the server's context...), not per-item failures: stop instead of recording errors.
        if len(tasks) > 1 and len(rejected) == len(tasks):
            raise BackendError(f"server at {self.base_url} rejected every request of this call: {rejected[0]}")
        return results

    def _payload(self, messages: list[dict[str, Any]], config: GenerationConfig, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "n": 1,
            "temperature": config.temperature,
            "top_p": config.top_p,
            self.options.max_tokens_field: config.max_new_tokens,
            **self.options.extra_body,
        }
        if seed is not None:
            body["seed"] = seed
        if config.stop:
            body["stop"] = list(config.stop)
        return body

    async def _request(self, client: Any, messages: list[dict[str, Any]], config: GenerationConfig, seed: int | None) -> Completion:
        import httpx

        url = f"{self.base_url}/chat/completions"
        body = self._payload(messages, config, seed)
        opts = self.options
        last = "no attempt made"
        connected = False
        retry_after: float | None = None
        for attempt in range(opts.max_retries + 1):
            if attempt:
                delay = min(opts.max_backoff_s, opts.backoff_s * 2 ** (attempt - 1))
                # A server's Retry-After (rate limits) wins over our schedule, within the cap.
                delay = min(opts.max_backoff_s, retry_after) if retry_after is not None else delay
                await asyncio.sleep(delay * random.uniform(0.75, 1.25))
                retry_after = None
            t0 = time.perf_counter()
            try:
                # httpx's timeouts bound each read; this bounds the attempt as a whole.
                async with asyncio.timeout(opts.timeout_s):
                    resp = await client.post(url, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = f"cannot connect to {url}: {type(exc).__name__}: {exc}"
                continue
            except (httpx.TimeoutException, TimeoutError) as exc:
                connected = True
                last = f"request to {url} timed out after {opts.timeout_s:g} s ({type(exc).__name__})"
                continue
            except httpx.HTTPError as exc:
                connected = True
                last = f"request to {url} failed: {type(exc).__name__}: {exc}"
                continue
            connected = True
            latency = time.perf_counter() - t0
            if resp.status_code == 200:
                return _parse(resp, latency, url)
            last = f"HTTP {resp.status_code} from {url}: {resp.text[:500]}"
            try:
                retry_after = float(resp.headers.get("retry-after", ""))
            except ValueError:
                retry_after = None
            if resp.status_code not in _RETRY_STATUS:
                if 400 <= resp.status_code < 500:
                    raise _Rejected(last)
                break
        if not connected:
            raise _Unreachable(last)
        return _error(f"{last} (after {attempt + 1} attempt(s))")


def _parse(resp: Any, latency: float, url: str) -> Completion:
    """A 200 response -> Completion; any shape other than a text answer is an `error` completion."""
    try:
        data = resp.json()
        choice = data["choices"][0]
        message = choice.get("message") or {}
        if not isinstance(message, dict):
            raise TypeError(f"message is {type(message).__name__}, expected an object")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        return _error(f"malformed response from {url}: {type(exc).__name__}: {exc}: {resp.text[:300]}")
    raw_finish = choice.get("finish_reason")
    try:
        content = _as_text(message.get("content"), "content")
        # Reasoning servers (vLLM/SGLang reasoning parsers, DeepSeek) split the thinking out; keep it,
        # in the <think> form the verifier and length statistics expect.
        reasoning = _as_text(message.get("reasoning_content") or message.get("reasoning"), "reasoning")
    except _NotText as exc:
        return _error(f"{exc} from {url} (finish_reason={raw_finish!r})")
    if raw_finish == "content_filter":
        return _error(f"server refused the request (finish_reason={raw_finish!r})")
    finish = "length" if raw_finish == "length" else "stop"
    if finish == "stop" and not content.strip() and not reasoning:
        # Nothing generated yet "finished": a server fault, not the model's (wrong) answer.
        return _error(f"server returned empty content with finish_reason={raw_finish!r}")
    text = f"<think>{reasoning}</think>{content}" if reasoning else content
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(
        text=text, finish_reason=finish, prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")), latency_s=latency,
    )


class _NotText(ValueError):
    """A message field holds something other than text."""


def _as_text(value: Any, field: str) -> str:
    """A message field as text: None is empty, a list of text parts is joined, anything else raises."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, list):
        texts = []
        for part in value:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") in ("text", "output_text") and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise _NotText(f"server returned a non-text {field} part ({kind!r})")
        return "".join(texts)
    raise _NotText(f"server returned {field} of type {type(value).__name__}, expected text")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error(message: str) -> Completion:
    return Completion(text="", finish_reason="error", error=message)
