"""A tiny OpenAI-compatible HTTP server around any Generator (`sophia-eval serve`, and tests).

Endpoints: `GET /v1/models` and `POST /v1/chat/completions` (non-streaming). Images arrive as
`image_url` parts with base64 data URLs and are decoded to PIL images. Concurrent requests are
micro-batched: a single worker thread drains the queue (requests with the same decoding settings
apart from the seed, up to `max_batch`) into one `generate` call, so an async client's
concurrency becomes batching.

Standard library only (http.server): this is for local use and tests, not a production server;
use vLLM serve / SGLang for that.
"""

from __future__ import annotations

import base64
import io
import json
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sophia_eval.backends.base import Completion, Conversation, GenerationConfig, Generator


class RequestError(ValueError):
    """The client sent something this server cannot handle (HTTP 400)."""


def _decode_image(url: str) -> Any:
    from PIL import Image

    if not url.startswith("data:"):
        raise RequestError("only base64 data URLs are accepted for images (this server does not fetch URLs)")
    try:
        payload = url.split(",", 1)[1]
        image = Image.open(io.BytesIO(base64.b64decode(payload)))
        image.load()
    except (IndexError, ValueError, OSError) as exc:
        raise RequestError(f"cannot decode image data URL: {exc}") from exc
    return image


def parse_messages(messages: Any) -> Conversation:
    """OpenAI chat messages -> contract messages (image_url data URLs -> PIL images)."""
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    conv: Conversation = []
    for m in messages:
        if not isinstance(m, dict) or "role" not in m:
            raise RequestError("each message needs a 'role' and 'content'")
        content = m.get("content")
        if isinstance(content, list):
            parts = []
            for p in content:
                if p.get("type") == "text":
                    parts.append({"type": "text", "text": p.get("text", "")})
                elif p.get("type") == "image_url":
                    url = p.get("image_url", {}).get("url", "") if isinstance(p.get("image_url"), dict) else p.get("image_url", "")
                    parts.append({"type": "image", "image": _decode_image(url)})
                else:
                    raise RequestError(f"unsupported content part type {p.get('type')!r}")
            content = parts
        conv.append({"role": m["role"], "content": content if content is not None else ""})
    return conv


def parse_config(body: dict[str, Any]) -> GenerationConfig:
    stop = body.get("stop") or ()
    try:
        return GenerationConfig(
            n=int(body.get("n", 1)),
            temperature=float(body.get("temperature", 1.0)),
            top_p=float(body.get("top_p", 1.0)),
            max_new_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or 512),
            seed=body.get("seed"),
            stop=(stop,) if isinstance(stop, str) else tuple(stop),
        )
    except (TypeError, ValueError) as exc:
        raise RequestError(str(exc)) from exc


@dataclass
class _Job:
    conv: Conversation
    config: GenerationConfig
    future: Future


class BatchingWorker:
    """One thread that runs the generator; concurrent jobs with equal configs share a batch."""

    def __init__(self, generator: Generator, max_batch: int = 8, wait_s: float = 0.01) -> None:
        self.generator, self.max_batch, self.wait_s = generator, max_batch, wait_s
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="sophia-serve-worker", daemon=True)
        self._thread.start()

    def submit(self, conv: Conversation, config: GenerationConfig) -> list[Completion]:
        job = _Job(conv, config, Future())
        self._queue.put(job)
        return job.future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        pending: list[_Job] = []
        while True:
            job = pending.pop(0) if pending else self._queue.get()
            if job is None:
                return
            batch, deadline = [job], time.monotonic() + self.wait_s
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                (batch if _batch_key(nxt.config) == _batch_key(job.config) else pending).append(nxt)
            try:
                outs = self.generator.generate([j.conv for j in batch], job.config)
            except Exception as exc:  # noqa: BLE001 - report to every waiting request
                for j in batch:
                    j.future.set_exception(exc)
                continue
            for j, out in zip(batch, outs):
                j.future.set_result(out)


def _batch_key(config: GenerationConfig) -> GenerationConfig:
    # Clients send a distinct seed per request (the openai backend does); requests that differ
    # only by seed still share a batch, which runs with the first request's seed. A batched
    # sampler cannot honour per-request seeds anyway.
    return replace(config, seed=None)


def _response(model: str, comps: list[Completion]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": k, "message": {"role": "assistant", "content": c.text}, "finish_reason": c.finish_reason}
            for k, c in enumerate(comps)
        ],
        "usage": {
            "prompt_tokens": comps[0].prompt_tokens or 0,
            "completion_tokens": sum(c.completion_tokens or 0 for c in comps),
            "total_tokens": (comps[0].prompt_tokens or 0) + sum(c.completion_tokens or 0 for c in comps),
        },
    }


def make_server(
    generator: Generator, *, model_name: str, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 8
) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) bound to host:port; port 0 picks a free port.

    Call `serve_forever()` (e.g. in a thread) and `shutdown()`; `server.worker.close()` stops
    the generation thread.
    """
    worker = BatchingWorker(generator, max_batch=max_batch)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and CLI own stdout
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str) -> None:
            self._send(status, {"error": {"message": message, "type": kind, "code": status}})

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "sophia-eval"}]})
            elif self.path.rstrip("/") in ("/health", "/v1/health"):
                self._send(200, {"status": "ok"})
            else:
                self._error(404, f"no route {self.path}", "not_found")

        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._error(404, f"no route {self.path}", "not_found")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if body.get("stream"):
                    raise RequestError("streaming is not supported by this server")
                conv, config = parse_messages(body.get("messages")), parse_config(body)
            except (RequestError, ValueError) as exc:
                self._error(400, str(exc), "invalid_request_error")
                return
            try:
                comps = worker.submit(conv, config)
            except Exception as exc:  # noqa: BLE001 - the generator failed: a server error
                self._error(500, f"{type(exc).__name__}: {exc}", "server_error")
                return
            failed = [c.error for c in comps if c.finish_reason == "error"]
            if failed:
                self._error(500, f"generation failed: {failed[0]}", "server_error")
                return
            self._send(200, _response(body.get("model") or model_name, comps))

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.worker = worker  # type: ignore[attr-defined]
    return server


class ServerThread:
    """Run `make_server(...)` in a background thread; a context manager that yields the base URL."""

    def __init__(self, generator: Generator, *, model_name: str = "local", host: str = "127.0.0.1", port: int = 0,
                 max_batch: int = 8) -> None:
        self.server = make_server(generator, model_name=model_name, host=host, port=port, max_batch=max_batch)
        self._thread = threading.Thread(target=self.server.serve_forever, name="sophia-serve", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.worker.close()  # type: ignore[attr-defined]
