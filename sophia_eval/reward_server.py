"""An HTTP reward service over one warm verifier pool (`sophia-eval reward-server`), and its client.

Endpoints (JSON):
- `POST /reward`: `{"items": [{"gold", "completion", ...metadata}]}` ->
  `{"rewards": [1.0 | 0.0 | null], "statuses": [...], "extracted": [...]}`.
- `POST /get_reward`: OpenRLHF's remote reward protocol. `{"query": [prompt + response],
  "prompts": [prompt], "labels": [gold or {"answer": gold, ...metadata}]}` ->
  `{"rewards": [...], "scores": [...], "extra_logs": {"verified": [1.0 | 0.0]}}`; OpenRLHF needs
  numbers, so an unverifiable item scores `unverifiable_score` (0.0) there and `verified` is 0.0.
- `GET /metrics`: counters per verdict status and per answer code. `GET /health`.

Concurrent requests share the pool's threads (`VerifierPool.verify_many`), so they are batched
over the same warm workers. Bounded: body size (413), items per request (413), requests in flight
(429), open connections (503), seconds to receive a body (408); a bearer token when `api_key` is
set (401). Standard library only.
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping, Sequence

from sophia_eval.reward import META_KEYS, reward_value, score_items
from sophia_eval.verify import VerifierPool, get_policy


@dataclass(frozen=True)
class RewardServerConfig:
    """Settings of `sophia-eval reward-server` (all limits per server process)."""

    host: str = "127.0.0.1"
    """Interface to bind; loopback by default. Set an `api_key` before binding another one."""
    port: int = 8008
    """Port to listen on (0 picks a free one)."""
    workers: int | None = None
    """Verifier worker processes (default: CPU count)."""
    timeout: float = 2.0
    """Budget in seconds per item, counted from when a pool thread picks it up."""
    policy: str | None = None
    """Extraction policy name (default: the verifier's)."""
    max_body_bytes: int = 32 * 1024 * 1024
    """Largest request body accepted; larger gets 413 without being read."""
    max_batch: int = 16384
    """Most items in one request; more gets 413."""
    max_concurrency: int = 8
    """Requests being scored at once; more get 429 (retry later)."""
    max_connections: int = 64
    """Open connections (each holds a thread); more are answered 503 and closed."""
    body_timeout: float = 30.0
    """Seconds a client has to send its whole body (a trickling client gets 408)."""
    api_key: str | None = None
    """When set, requests need `Authorization: Bearer <api_key>` (else 401)."""
    unverifiable_score: float = 0.0
    """Score given to an unverifiable item on `/get_reward`, whose clients need a number."""

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch", "max_concurrency", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"RewardServerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.timeout <= 600:
            raise ValueError(f"RewardServerConfig.timeout must be in (0, 600] seconds, got {self.timeout}")
        if self.body_timeout <= 0:
            raise ValueError(f"RewardServerConfig.body_timeout must be > 0 seconds, got {self.body_timeout}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"RewardServerConfig.workers must be >= 1 or None (CPU count), got {self.workers}")
        if self.api_key is not None and not self.api_key:
            raise ValueError("RewardServerConfig.api_key must be a non-empty string or None")
        if self.policy is not None:
            try:
                get_policy(self.policy)
            except KeyError as exc:
                raise ValueError(f"RewardServerConfig.policy: {exc.args[0]}") from None


class BadRequest(Exception):
    """A client error: answered with `code` and the message as JSON `{"error": ...}`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class RewardServer(ThreadingHTTPServer):
    """The reward service. `serve_forever()` to run; `close()` stops the pool too."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, config: RewardServerConfig, pool: VerifierPool | None = None) -> None:
        self.config = config
        self.pool = pool or VerifierPool(workers=config.workers, timeout=config.timeout)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(config.max_concurrency)
        self._connections = 0
        super().__init__((config.host, config.port), _Handler)

    # -- connection bound: refuse before a thread is started for the connection
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = self._connections >= self.config.max_connections
            if not full:
                self._connections += 1
        if full:
            self.count("http_503")
            try:
                request.settimeout(1.0)
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections -= 1

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def metrics(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
        return {
            "statuses": {k[len("status_"):]: v for k, v in counts.items() if k.startswith("status_")},
            "responses": {k[len("http_"):]: v for k, v in counts.items() if k.startswith("http_")},
            "items": counts.get("items", 0),
            "worker_restarts": self.pool.restarts,
        }

    def score(self, golds: Sequence[Any], completions: Sequence[Any], metas: Sequence[Mapping[str, Any]]) -> list[Any]:
        if not self._in_flight.acquire(blocking=False):
            raise BadRequest(429, f"more than {self.config.max_concurrency} requests in flight; retry later")
        try:
            verdicts = score_items(golds, completions, metas, policy=self.config.policy,
                                   timeout=self.config.timeout, pool=self.pool)
        finally:
            self._in_flight.release()
        with self._lock:
            self.counts["items"] += len(verdicts)
            self.counts.update(f"status_{v.status}" for v in verdicts)
        return verdicts

    def close(self) -> None:
        self.server_close()
        self.pool.close()


class _Handler(BaseHTTPRequestHandler):
    server: RewardServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds of silence before an idle keep-alive connection is dropped

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    def _send(self, code: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.server.count(f"http_{code}")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if code >= 400 and code != 401:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        key = self.server.config.api_key
        if key is None:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {key}".encode())

    def _body(self) -> Any:
        if self.headers.get("Content-Encoding", "identity").lower() != "identity":
            raise BadRequest(415, "compressed bodies are not accepted; send plain JSON")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise BadRequest(411, "a Content-Length header is required")
        size = int(length)
        if size > self.server.config.max_body_bytes:
            raise BadRequest(413, f"body of {size} bytes is over the {self.server.config.max_body_bytes}-byte limit")
        deadline = time.monotonic() + self.server.config.body_timeout
        chunks, got = [], 0
        while got < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BadRequest(408, f"body not received within {self.server.config.body_timeout:g} s")
            self.connection.settimeout(left)
            try:
                chunk = self.rfile.read1(min(size - got, 1 << 20))
            except (socket.timeout, TimeoutError):
                raise BadRequest(408, f"body not received within {self.server.config.body_timeout:g} s") from None
            if not chunk:
                raise BadRequest(400, f"body ended after {got} of {size} bytes")
            chunks.append(chunk)
            got += len(chunk)
        self.connection.settimeout(self.timeout)
        try:
            return json.loads(b"".join(chunks))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(400, f"body is not valid JSON: {exc}") from None

    def do_GET(self) -> None:
        if not self._authorised():
            return self._send(401, {"error": "missing or wrong bearer token"})
        if self.path == "/health":
            return self._send(200, {"status": "ok"})
        if self.path == "/metrics":
            return self._send(200, self.server.metrics())
        self._send(404, {"error": f"no GET {self.path}; try /metrics, /health"})

    def do_POST(self) -> None:
        try:
            if not self._authorised():
                raise BadRequest(401, "missing or wrong bearer token")
            if self.path not in ("/reward", "/get_reward"):
                raise BadRequest(404, f"no POST {self.path}; try /reward or /get_reward")
            body = self._body()
            out = self._reward(body) if self.path == "/reward" else self._openrlhf(body)
        except BadRequest as exc:
            return self._send(exc.code, {"error": str(exc)})
        except Exception as exc:  # a bug here must still answer, not drop the connection
            return self._send(500, {"error": f"{type(exc).__name__}: {str(exc)[:200]}"})
        self._send(200, out)

    def _check_batch(self, n: int) -> None:
        if n > self.server.config.max_batch:
            raise BadRequest(413, f"{n} items is over the {self.server.config.max_batch}-item limit; split the batch")

    def _reward(self, body: Any) -> dict[str, Any]:
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(it, dict) for it in items):
            raise BadRequest(400, 'expected {"items": [{"gold": ..., "completion": ..., ...metadata}, ...]}')
        self._check_batch(len(items))
        for i, it in enumerate(items):
            if "gold" not in it or "completion" not in it:
                raise BadRequest(400, f"item {i} needs 'gold' and 'completion'; got {sorted(it)[:10]}")
        try:
            verdicts = self.server.score([it["gold"] for it in items], [it["completion"] for it in items], items)
        except (TypeError, ValueError) as exc:
            raise BadRequest(400, f"invalid item metadata: {exc}") from None
        return {"rewards": [reward_value(v) for v in verdicts], "statuses": [v.status for v in verdicts],
                "extracted": [v.extracted for v in verdicts]}

    def _openrlhf(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("query"), list):
            raise BadRequest(400, 'expected {"query": [...], "prompts": [...], "labels": [...]}')
        queries, prompts, labels = body["query"], body.get("prompts"), body.get("labels")
        if not isinstance(labels, list) or len(labels) != len(queries):
            raise BadRequest(400, f"'labels' must list one gold answer per query ({len(queries)}); "
                                  "start OpenRLHF with --label_key naming the gold column")
        if prompts is not None and (not isinstance(prompts, list) or len(prompts) != len(queries)):
            raise BadRequest(400, f"'prompts' must list one prompt per query ({len(queries)})")
        self._check_batch(len(queries))
        golds, metas = [], []
        for label in labels:
            if isinstance(label, str) and label.lstrip().startswith("{"):
                try:
                    label = json.loads(label)
                except json.JSONDecodeError:
                    pass
            if isinstance(label, dict):
                golds.append(label.get("answer", label.get("gold")))
                metas.append({k: label[k] for k in META_KEYS if k in label})
            else:
                golds.append(label)
                metas.append({})
        responses = [_response_part(q, None if prompts is None else prompts[i]) for i, q in enumerate(queries)]
        try:
            verdicts = self.server.score(golds, responses, metas)
        except (TypeError, ValueError) as exc:
            raise BadRequest(400, f"invalid label metadata: {exc}") from None
        rewards = [reward_value(v) for v in verdicts]
        scores = [self.server.config.unverifiable_score if r is None else r for r in rewards]
        return {"rewards": scores, "scores": scores,
                "extra_logs": {"verified": [0.0 if r is None else 1.0 for r in rewards]}}


def _response_part(query: Any, prompt: Any) -> Any:
    """The model's response inside OpenRLHF's query (prompt + response)."""
    if isinstance(query, str) and isinstance(prompt, str) and prompt and query.startswith(prompt):
        return query[len(prompt):]
    return query


def make_reward_server(config: RewardServerConfig | None = None, *, start_workers: bool = True) -> RewardServer:
    """A bound, not yet serving, reward server; workers started first unless `start_workers=False`."""
    config = config or RewardServerConfig()
    pool = VerifierPool(workers=config.workers, timeout=config.timeout)
    if start_workers:
        pool.start()
    try:
        return RewardServer(config, pool)
    except BaseException:
        pool.close()
        raise


class RewardClient:
    """Client of a reward server: `RewardClient(url).rewards(golds, completions)` -> rewards."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def _call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, headers=self._headers,
                                     method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise RuntimeError(f"reward server {self.url}{path} answered {exc.code}: {detail}") from None

    def score(self, golds: Sequence[Any], completions: Sequence[Any],
              metadata: Sequence[Mapping[str, Any] | None] | None = None) -> dict[str, list[Any]]:
        """The server's full answer: rewards, statuses and extracted answers, in order."""
        if len(golds) != len(completions) or (metadata is not None and len(metadata) != len(golds)):
            raise ValueError(f"RewardClient.score: {len(golds)} golds, {len(completions)} completions"
                             + ("" if metadata is None else f", {len(metadata)} metadata")
                             + "; expected one of each per item")
        items = [{**((metadata[i] or {}) if metadata is not None else {}), "gold": g, "completion": c}
                 for i, (g, c) in enumerate(zip(golds, completions))]
        return self._call("/reward", {"items": items})

    def rewards(self, golds: Sequence[Any], completions: Sequence[Any],
                metadata: Sequence[Mapping[str, Any] | None] | None = None) -> list[float | None]:
        """1.0 / 0.0 per completion, None when unverifiable."""
        return self.score(golds, completions, metadata)["rewards"]

    def metrics(self) -> dict[str, Any]:
        return self._call("/metrics")
