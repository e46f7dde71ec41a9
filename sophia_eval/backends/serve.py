"""A small OpenAI-compatible HTTP server around any Generator (`sophia-eval serve`, and tests).

Endpoints: `GET /v1/models`, `GET /health` and `POST /v1/chat/completions` (non-streaming).
Images arrive as `image_url` parts with base64 data URLs (see `serve_request`). Concurrent
requests are micro-batched: a single worker thread drains the queue (requests with the same
decoding settings apart from the seed, up to `max_batch`) into one `generate` call.

Every bound is in `ServeLimits`: body size (413), prompt tokens, `n` and new tokens (400), image
pixels (413), open connections (429), the time to receive a request and the deadline of the whole
request (504, generation cancelled). A request whose client disconnects is cancelled: dropped if
still queued, and stopped between decoding steps by generators that support cancellation (the
transformers backend), so the next client is served. One request per connection (`Connection:
close`), one log line per request on the `sophia_eval.serve` logger.

Standard library only (http.server): for local use and tests, not production; use vLLM serve or
SGLang for that.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import queue
import select
import socket
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sophia_eval.backends.base import Completion, Conversation, GenerationConfig, Generator
from sophia_eval.backends.serve_request import RequestError, parse_body, parse_config, parse_messages

log = logging.getLogger("sophia_eval.serve")

API_KEY_ENV = "SOPHIA_EVAL_SERVE_API_KEY"
"""Environment variable `sophia-eval serve` reads its bearer token from when `--api-key` is not given."""


@dataclass(frozen=True)
class ServeLimits:
    """What one server accepts; every bound is answered with an HTTP error, never a dropped socket."""

    max_body_bytes: int = 16 * 2**20
    """Largest request body (base64 images included); larger is 413 and the body is not read."""
    max_prompt_tokens: int = 32768
    """Longest prompt after the chat template (generators that can count tokens); longer is 400."""
    max_new_tokens: int = 32768
    """Largest `max_tokens` a request may ask for; larger is 400."""
    max_n: int = 16
    """Most samples per request; more is 400."""
    max_image_pixels: int = 4096 * 4096
    """Total pixels of the images of one request, checked from the headers before decoding; more is 413."""
    max_connections: int = 64
    """Open connections (each holds a thread); one more is answered 429 at once."""
    read_timeout_s: float = 30.0
    """Time from accepting a connection to having its whole request (headers and body)."""
    request_timeout_s: float = 600.0
    """Deadline of a request from accept to response; past it generation is cancelled and 504 sent."""

    def __post_init__(self) -> None:
        for f in ("max_body_bytes", "max_prompt_tokens", "max_new_tokens", "max_n", "max_image_pixels", "max_connections"):
            if getattr(self, f) < 1:
                raise ValueError(f"ServeLimits.{f} must be >= 1, got {getattr(self, f)}")
        if not 0 < self.read_timeout_s <= self.request_timeout_s:
            raise ValueError(
                f"ServeLimits needs 0 < read_timeout_s <= request_timeout_s, got {self.read_timeout_s} and {self.request_timeout_s}"
            )


def default_model_id(model: str) -> str:
    """The id `/v1/models` reports when none is given: a local path's last component (a .gguf
    file without its suffix), a hub id as it is."""
    path = Path(model).expanduser()
    if not path.exists():
        return model
    path = path.resolve()
    return path.stem if path.is_file() else path.name


class Cancelled(Exception):
    """The request was cancelled (client gone or deadline passed) before its generation finished."""


@dataclass
class _Job:
    conv: Conversation
    config: GenerationConfig
    future: Future = field(default_factory=Future)
    cancel: threading.Event = field(default_factory=threading.Event)
    prompt_tokens: int | None = None


class BatchingWorker:
    """One thread that runs the generator; concurrent jobs with equal configs share a batch.

    Before a job joins a batch it is dropped if cancelled and refused if its prompt is longer
    than `max_prompt_tokens` (for generators with `count_prompt_tokens`). Generators with
    `supports_cancel` get one `threading.Event` per conversation and stop those that are set.
    """

    def __init__(self, generator: Generator, max_batch: int = 8, wait_s: float = 0.01,
                 max_prompt_tokens: int | None = None) -> None:
        self.generator, self.max_batch, self.wait_s = generator, max_batch, wait_s
        self.max_prompt_tokens = max_prompt_tokens
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="sophia-serve-worker", daemon=True)
        self._thread.start()

    def submit(self, conv: Conversation, config: GenerationConfig) -> _Job:
        """Queue a job; wait on `job.future`, set `job.cancel` to abandon it."""
        job = _Job(conv, config)
        self._queue.put(job)
        return job

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _admit(self, job: _Job) -> bool:
        if job.cancel.is_set():
            job.future.set_exception(Cancelled("cancelled before generation started"))
            return False
        count = getattr(self.generator, "count_prompt_tokens", None)
        if self.max_prompt_tokens is None or count is None:
            return True
        try:
            job.prompt_tokens = count(job.conv)
        except Exception as exc:  # noqa: BLE001 - a prompt the model cannot take is the client's error
            job.future.set_exception(RequestError(f"cannot encode the prompt for this model: {exc}"))
            return False
        if job.prompt_tokens > self.max_prompt_tokens:
            job.future.set_exception(RequestError(
                f"prompt has {job.prompt_tokens} tokens; this server accepts at most {self.max_prompt_tokens} "
                "(--max-prompt-tokens)"))
            return False
        return True

    def _loop(self) -> None:
        pending: list[_Job] = []
        while True:
            job = pending.pop(0) if pending else self._queue.get()
            if job is None:
                return
            if not self._admit(job):
                continue
            batch, deadline = [job], time.monotonic() + self.wait_s
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                if _batch_key(nxt.config) != _batch_key(job.config):
                    pending.append(nxt)
                elif self._admit(nxt):
                    batch.append(nxt)
            self._run(batch)

    def _run(self, batch: list[_Job]) -> None:
        convs, config = [j.conv for j in batch], batch[0].config
        try:
            if getattr(self.generator, "supports_cancel", False):
                outs = self.generator.generate(convs, config, cancel=[j.cancel for j in batch])  # type: ignore[call-arg]
            else:
                outs = self.generator.generate(convs, config)
        except Exception as exc:  # noqa: BLE001 - report to every waiting request
            for j in batch:
                j.future.set_exception(exc)
            return
        for j, out in zip(batch, outs):
            j.future.set_result(out)


def _batch_key(config: GenerationConfig) -> GenerationConfig:
    # Clients send a distinct seed per request (the openai backend does); requests that differ
    # only by seed still share a batch, which runs with the first request's seed. A batched
    # sampler cannot honour per-request seeds anyway.
    return replace(config, seed=None)


def _response(model: str, comps: list[Completion], prompt_tokens: int | None) -> dict[str, Any]:
    prompt = comps[0].prompt_tokens or prompt_tokens or 0
    completion = sum(c.completion_tokens or 0 for c in comps)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": k, "message": {"role": "assistant", "content": c.text}, "finish_reason": c.finish_reason}
            for k, c in enumerate(comps)
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


class _DeadlineReader(io.RawIOBase):
    """Socket reads that fail with TimeoutError once `deadline` passes, however the bytes trickle."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request was not received in time")
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


def _client_gone(sock: socket.socket) -> bool:
    """True once the peer has closed or reset its end (the request body was already read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on open connections (one thread each)."""

    daemon_threads = True
    request_queue_size = 128  # listen backlog: connections over the limit are accepted and refused, not left in SYN retries

    def __init__(self, address: tuple[str, int], handler: type, limits: ServeLimits, worker: BatchingWorker) -> None:
        super().__init__(address, handler)
        self.limits, self.worker = limits, worker
        self._open = 0
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = self._open >= self.limits.max_connections
            if not full:
                self._open += 1
        if not full:
            super().process_request(request, client_address)
            return
        log.info("%s - 429 refused: %d connections open (--max-connections)", client_address[0], self._open)
        _refuse(request, self.limits.max_connections)
        self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._open -= 1


def _stopped(job: _Job, deadline: float) -> str:
    """Wait (until the request deadline) for a cancelled job's generation to end; say how it ended."""
    try:
        comps = job.future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        return "generation still running at the request deadline"
    except Exception:  # noqa: BLE001 - dropped before it started (Cancelled) or failed: nothing ran
        return "generation cancelled before it started"
    tokens = max((c.completion_tokens or 0) for c in comps) if comps else 0
    if comps and all(c.error == "cancelled" for c in comps):
        return f"generation cancelled after {tokens} new tokens"
    return f"generation ran to its end ({tokens} new tokens; this backend cannot be cancelled)"


def _drain(sock: socket.socket, limit_s: float = 2.0) -> None:
    """After an early reply (401, 413...), end our side and read what the client still sends, for
    at most `limit_s`: closing with unread bytes would reset the connection and lose the reply."""
    sock.shutdown(socket.SHUT_WR)
    end = time.monotonic() + limit_s
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return
        except OSError:
            return


def _refuse(sock: socket.socket, limit: int) -> None:
    """429 on the accepting thread: a few hundred bytes fit the socket buffer, so this never blocks.
    The request already received is drained first so closing does not reset the reply away."""
    data = json.dumps({"error": {"message": f"server busy: {limit} connections open; retry later",
                                 "type": "rate_limit_error", "code": 429}}).encode()
    head = f"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n" \
           "Retry-After: 1\r\nConnection: close\r\n\r\n"
    try:
        sock.setblocking(False)
        try:
            while sock.recv(65536):
                pass
        except BlockingIOError:
            pass
        sock.send(head.encode("ascii") + data)
    except OSError:
        pass


def make_server(
    generator: Generator, *, model_name: str, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 8,
    limits: ServeLimits | None = None, api_key: str | None = None,
) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) bound to host:port; port 0 picks a free port.

    `api_key` set: every request needs `Authorization: Bearer <api_key>` (401 otherwise).
    Call `serve_forever()` (e.g. in a thread) and `shutdown()`; `server.worker.close()` stops
    the generation thread.
    """
    limits = limits or ServeLimits()
    worker = BatchingWorker(generator, max_batch=max_batch, max_prompt_tokens=limits.max_prompt_tokens)
    expected_auth = f"Bearer {api_key}".encode() if api_key else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.accepted = time.monotonic()
            self.rfile.close()  # replaced: reads now share one deadline for headers and body
            self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self.accepted + limits.read_timeout_s))
            self.note = ""
            self.body_unread = False

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            pass  # one line per request is written by `_log_line`

        def log_message(self, format: str, *args: Any) -> None:  # http.server's own errors (bad request line...)
            log.info("%s - %s", self.client_address[0], format % args)

        def _log_line(self, status: int) -> None:
            took = time.monotonic() - self.accepted
            log.info("%s - %s %s %s %.2fs %s", self.client_address[0], self.command, self.path, status, took, self.note)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.close_connection = True
            self.connection.settimeout(limits.read_timeout_s)  # a client that does not read cannot hold us
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                if status == 401:
                    self.send_header("WWW-Authenticate", "Bearer")
                self.end_headers()
                self.wfile.write(data)
                if self.body_unread:
                    _drain(self.connection)
            except OSError as exc:
                self.note = f"{self.note} (reply not delivered: {type(exc).__name__})".strip()
            self._log_line(status)

        def _error(self, status: int, message: str, kind: str) -> None:
            self.note = f"{kind}: {message}"[:300]
            self._send(status, {"error": {"message": message, "type": kind, "code": status}})

        def _authorized(self) -> bool:
            if expected_auth is None:
                return True
            given = (self.headers.get("Authorization") or "").strip().encode()
            if hmac.compare_digest(given, expected_auth):
                return True
            self._error(401, "missing or wrong API key: send 'Authorization: Bearer <key>'", "authentication_error")
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            route = self.path.rstrip("/")
            if route in ("/health", "/v1/health"):
                self._send(200, {"status": "ok"})
            elif not self._authorized():
                return
            elif route in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "sophia-eval"}]})
            else:
                self._error(404, f"no route {self.path}", "not_found")

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorized():
                return
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._error(404, f"no route {self.path}", "not_found")
                return
            try:
                raw = self._read_body()
                body = parse_body(raw)
                conv = parse_messages(body.get("messages"), max_image_pixels=limits.max_image_pixels)
                config = parse_config(body, max_n=limits.max_n, max_new_tokens=limits.max_new_tokens)
            except RequestError as exc:
                self._error(exc.status, str(exc), "invalid_request_error")
                return
            except TimeoutError:
                self._error(408, f"request not received within {limits.read_timeout_s:g} s", "timeout")
                return
            self._generate(conv, config)

        def _read_body(self) -> bytes:
            self.body_unread = True
            if self.headers.get("Transfer-Encoding"):
                raise RequestError("chunked bodies are not supported; send Content-Length", status=411)
            length = self.headers.get("Content-Length")
            if length is None:
                raise RequestError("Content-Length is required", status=411)
            if not length.strip().isdigit():
                raise RequestError(f"Content-Length must be a non-negative integer, got {length!r}")
            if int(length) > limits.max_body_bytes:
                raise RequestError(
                    f"body of {int(length):,} bytes exceeds this server's limit of {limits.max_body_bytes:,} (--max-body-bytes)",
                    status=413)
            raw = self.rfile.read(int(length))
            self.body_unread = False
            if len(raw) < int(length):
                raise RequestError(f"body ended after {len(raw)} of {length} bytes")
            return raw

        def _generate(self, conv: Conversation, config: GenerationConfig) -> None:
            job = worker.submit(conv, config)
            deadline = self.accepted + limits.request_timeout_s
            while True:
                try:
                    comps = job.future.result(timeout=0.1)
                    break
                except FutureTimeout:
                    pass
                except RequestError as exc:
                    self._error(exc.status, str(exc), "invalid_request_error")
                    return
                except Exception as exc:  # noqa: BLE001 - the generator failed: a server error
                    self._error(500, f"{type(exc).__name__}: {exc}", "server_error")
                    return
                if _client_gone(self.connection):
                    job.cancel.set()
                    self.close_connection = True
                    self.note = "client disconnected: " + _stopped(job, deadline)
                    self._log_line(499)  # nginx's code for "client closed request"
                    return
                if time.monotonic() > deadline:
                    job.cancel.set()
                    self._error(504, f"request exceeded the {limits.request_timeout_s:g} s deadline; generation "
                                     "cancelled (--request-timeout)", "timeout")
                    return
            failed = [c.error for c in comps if c.finish_reason == "error"]
            if failed:
                self._error(500, f"generation failed: {failed[0]}", "server_error")
                return
            self.note = f"n={config.n} prompt_tokens={comps[0].prompt_tokens or job.prompt_tokens} " \
                        f"completion_tokens={sum(c.completion_tokens or 0 for c in comps)}"
            self._send(200, _response(model_name, comps, job.prompt_tokens))

    server = _Server((host, port), Handler, limits, worker)
    return server


class ServerThread:
    """Run `make_server(...)` in a background thread; a context manager that yields the base URL."""

    def __init__(self, generator: Generator, *, model_name: str = "local", host: str = "127.0.0.1", port: int = 0,
                 max_batch: int = 8, limits: ServeLimits | None = None, api_key: str | None = None) -> None:
        self.server = make_server(generator, model_name=model_name, host=host, port=port, max_batch=max_batch,
                                  limits=limits, api_key=api_key)
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default, per test).
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="sophia-serve", daemon=True)

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
