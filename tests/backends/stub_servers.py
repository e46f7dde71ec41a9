"""Fault-injecting OpenAI-compatible stub servers on 127.0.0.1 (raw sockets, one thread each).

`StubServer(behaviour)` accepts connections, reads one HTTP request and hands the socket to
`behaviour(sock, body)`, which writes whatever bytes the fault needs: a JSON reply with odd
content, a body trickled one byte at a time, a connection reset. `GET /models` is answered with one
model so `make_generator("openai", ...)` passes its reachability check.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from typing import Any, Callable

Behaviour = Callable[[socket.socket, bytes], None]


def _read_request(sock: socket.socket) -> tuple[str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return "", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(v) for k, _, v in (ln.partition(":") for ln in lines[1:]) if k.lower() == "content-length"), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return lines[0], body


def http_reply(status: int, payload: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    return head.encode("ascii") + payload


def chat_reply(content: Any, finish_reason: str = "stop", **message: Any) -> Behaviour:
    """A 200 chat completion whose message content is `content` exactly as given (any JSON value)."""
    payload = json.dumps({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **message},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }).encode()
    return lambda sock, body: sock.sendall(http_reply(200, payload))


def trickle(interval_s: float, total_bytes: int = 10_000) -> Behaviour:
    """Headers at once, then a (never complete) body one byte per `interval_s`: a per-read timeout
    never fires on this, only a deadline over the whole response does."""

    def run(sock: socket.socket, body: bytes) -> None:
        sock.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total_bytes + 1}\r\n\r\n".encode())
        for _ in range(total_bytes):
            time.sleep(interval_s)
            sock.sendall(b" ")

    return run


def reset(sock: socket.socket, body: bytes) -> None:
    """Close with RST (SO_LINGER 0) after reading the request, before any response byte."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class StubServer:
    """Context manager serving `behaviours` in turn (the last one repeats) on a free port."""

    def __init__(self, *behaviours: Behaviour) -> None:
        self.behaviours = list(behaviours)
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(sock,), daemon=True).start()

    def _handle(self, sock: socket.socket) -> None:
        try:
            line, body = _read_request(sock)
            if line.startswith("GET"):
                sock.sendall(http_reply(200, b'{"object": "list", "data": [{"id": "stub"}]}'))
                return
            self.requests.append(body)
            behaviour = self.behaviours[min(len(self.requests), len(self.behaviours)) - 1]
            behaviour(sock, body)
        except OSError:
            pass  # the client went away (e.g. gave up on a trickle): nothing left to do
        finally:
            sock.close()
