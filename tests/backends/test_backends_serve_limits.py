"""`serve` bounds every request: body, prompt, n, pixels, connections, time; auth; malformed bodies.

Each refusal must be an HTTP answer with a JSON error (never a dropped connection), and one
log line per request."""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
import struct
import threading
import time
import zlib

import httpx
import pytest

from sophia_eval.backends import make_generator
from sophia_eval.backends.base import Completion, GenerationConfig
from sophia_eval.backends.serve import ServeLimits, ServerThread, default_model_id

HELLO = {"messages": [{"role": "user", "content": "hello"}]}


class Words:
    """Echoes the last text; counts prompt tokens as words. A prompt of `slow` decodes until its
    cancel event is set (or 30 s pass), like a long generation."""

    name = "words"
    supports_cancel = True

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.seen: list[str] = []

    def describe(self) -> dict:
        return {"backend": self.name}

    def count_prompt_tokens(self, conv) -> int:
        return sum(len(m["content"].split()) if isinstance(m["content"], str) else 1 for m in conv)

    def generate(self, conversations, config, cancel=None):
        out = []
        for i, conv in enumerate(conversations):
            text = conv[-1]["content"] if isinstance(conv[-1]["content"], str) else "parts"
            self.seen.append(text)
            if text == "slow":
                self.started.set()
                if cancel[i].wait(30):
                    self.cancelled.set()
                out.append([Completion(text="", finish_reason="error", error="cancelled")] * config.n)
                continue
            out.append([Completion(text=text, finish_reason="stop", prompt_tokens=1, completion_tokens=1)] * config.n)
        return out


def _post(srv: ServerThread, body, **kw) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{srv.base_url}/chat/completions", content=content, timeout=30, **kw)


def _kind(resp: httpx.Response) -> tuple[int, str]:
    return resp.status_code, resp.json()["error"]["type"]


def _serve(**limits) -> ServerThread:
    return ServerThread(Words(), limits=ServeLimits(**limits))


def test_body_over_the_limit_is_413_even_while_the_client_still_sends():
    with _serve(max_body_bytes=1000) as srv:
        resp = _post(srv, {**HELLO, "pad": "x" * 4_000_000})
    assert resp.status_code == 413 and "--max-body-bytes" in resp.json()["error"]["message"]


def test_prompt_over_the_token_limit_is_400_and_a_short_one_passes():
    with _serve(max_prompt_tokens=5) as srv:
        long = _post(srv, {"messages": [{"role": "user", "content": "one two three four five six"}]})
        short = _post(srv, HELLO)
    assert (_kind(long), "--max-prompt-tokens" in long.text, short.status_code) == (
        (400, "invalid_request_error"), True, 200)


@pytest.mark.parametrize("field,value,flag", [("n", 3, "--max-n"), ("max_tokens", 101, "--max-new-tokens")])
def test_n_and_new_tokens_over_their_limits_are_400(field, value, flag):
    with _serve(max_n=2, max_new_tokens=100) as srv:
        resp = _post(srv, {**HELLO, field: value})
    assert _kind(resp) == (400, "invalid_request_error") and flag in resp.text


def _wait_for(cond, what: str) -> None:
    for _ in range(300):  # up to ~30 s; a wait for the server's state, not a timing assertion
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def test_connections_over_the_limit_get_429_and_the_slot_frees_when_one_closes():
    with _serve(max_connections=2) as srv:
        host, port = srv.server.server_address[:2]
        stalled = [socket.create_connection((host, port)) for _ in range(2)]
        _wait_for(lambda: srv.server._open == 2, "two connections open")
        busy = _post(srv, HELLO)
        for s in stalled:
            s.close()
        _wait_for(lambda: srv.server._open == 0, "stalled connections released")
        ok = _post(srv, HELLO)
    assert (busy.status_code, busy.headers.get("retry-after"), ok.status_code) == (429, "1", 200)


def _raw(srv: ServerThread, data: bytes, then_stall: bool = True) -> bytes:
    """Send `data` on a raw socket, then read until the server closes (at most 30 s)."""
    host, port = srv.server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_body_that_never_completes_is_408_at_the_read_deadline():
    with _serve(read_timeout_s=0.5) as srv:
        reply = _raw(srv, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mess")
    assert reply.startswith(b"HTTP/1.1 408")


def test_headers_that_never_complete_are_closed_at_the_read_deadline():
    with _serve(read_timeout_s=0.5) as srv:
        reply = _raw(srv, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    assert reply == b""


def test_request_deadline_is_504_and_cancels_generation():
    gen = Words()
    with ServerThread(gen, limits=ServeLimits(read_timeout_s=0.5, request_timeout_s=1.0)) as srv:
        resp = _post(srv, {"messages": [{"role": "user", "content": "slow"}]})
        cancelled = gen.cancelled.wait(10)
    assert (_kind(resp), cancelled) == ((504, "timeout"), True)


def test_client_disconnect_cancels_generation_and_the_next_client_is_served(caplog):
    gen = Words()
    caplog.set_level(logging.INFO, logger="sophia_eval.serve")
    with ServerThread(gen) as srv:
        host, port = srv.server.server_address[:2]
        body = json.dumps({"messages": [{"role": "user", "content": "slow"}]}).encode()
        with socket.create_connection((host, port)) as s:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            assert gen.started.wait(10)
        cancelled = gen.cancelled.wait(10)
        nxt = _post(srv, HELLO)
    lines = [r.getMessage() for r in caplog.records]
    assert (cancelled, nxt.json()["choices"][0]["message"]["content"]) == (True, "hello")
    assert [(" 499 " in ln, " 200 " in ln) for ln in lines] == [(True, False), (False, True)], lines


def _send_raw(srv: ServerThread, text: str) -> socket.socket:
    host, port = srv.server.server_address[:2]
    body = json.dumps({"messages": [{"role": "user", "content": text}]}).encode()
    s = socket.create_connection((host, port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return s


def test_a_queued_request_whose_client_left_is_never_generated(caplog):
    gen = Words()
    caplog.set_level(logging.INFO, logger="sophia_eval.serve")
    with ServerThread(gen) as srv:
        busy = _send_raw(srv, "slow")
        assert gen.started.wait(10)
        queued = _send_raw(srv, "queued")
        _wait_for(lambda: srv.server.worker._queue.qsize() == 1, "second request queued")
        waiting = srv.server.worker._queue.queue[0]
        queued.close()
        # the queued request's handler must see its client gone before the slot frees; else the
        # worker may take the job in the 0.1 s between two of its polls (a race, not the contract)
        _wait_for(waiting.cancel.is_set, "queued request cancelled")
        busy.close()
        _wait_for(lambda: len(caplog.records) == 2, "both requests logged")
        nxt = _post(srv, HELLO)
    lines = sorted(r.getMessage() for r in caplog.records if " 499 " in r.getMessage())
    assert (gen.seen, nxt.status_code) == (["slow", "hello"], 200)
    assert ["before it started" in ln for ln in lines].count(True) == 1, lines


def test_bearer_token_is_required_when_set():
    with ServerThread(Words(), api_key="s3cret") as srv:
        missing = _post(srv, HELLO)
        wrong = _post(srv, HELLO, headers={"Authorization": "Bearer nope"})
        models = httpx.get(f"{srv.base_url}/models", timeout=10)
        health = httpx.get(srv.base_url.removesuffix("/v1") + "/health", timeout=10)
        remote = make_generator("openai", "auto", base_url=srv.base_url, api_key="s3cret")
        (c,) = remote.generate([HELLO["messages"]], GenerationConfig())[0]
    assert (missing.status_code, wrong.status_code, models.status_code, health.status_code, c.text) == (
        401, 401, 401, 200, "hello")


def _png(width: int, height: int, pixels: bool = True) -> bytes:
    """A 1-bit PNG of any declared size (all zero rows, compressed); `pixels=False` leaves out the
    rows (a header that claims a size, as a decompression bomb's does: nothing past it is read)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * ((width + 7) // 8 + 1) * height if pixels else b"\0", 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _image_body(*pngs: bytes) -> dict:
    parts = [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(p).decode()}}
             for p in pngs]
    return {"messages": [{"role": "user", "content": [*parts, {"type": "text", "text": "q"}]}]}


def test_images_over_the_pixel_budget_are_refused_before_decoding(monkeypatch):
    from PIL import ImageFile

    loaded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: (loaded.append(self.size), real_load(self))[1])
    with _serve(max_image_pixels=100 * 100) as srv:
        fits = _post(srv, _image_body(_png(80, 80)))
        too_many = _post(srv, _image_body(_png(80, 80), _png(80, 80)))
        too_big = _post(srv, _image_body(_png(3000, 3000)))
    assert (fits.status_code, too_many.status_code, too_big.status_code) == (200, 413, 413)
    assert loaded == [(80, 80), (80, 80)]  # the second 80x80 and the 3000x3000 were never decoded


def test_a_decompression_bomb_is_answered_not_dropped():
    with _serve() as srv:
        resp = _post(srv, _image_body(_png(40000, 40000, pixels=False)))
    assert resp.status_code == 413 and "pixels" in resp.json()["error"]["message"]


MALFORMED = [
    b"[]", b"null", b"42", b'"text"', b"{not json", b"\xff\xfe", b"",
    b'{"messages": "hi"}', b'{"messages": []}', b'{"messages": [1]}', b'{"messages": [{"content": "x"}]}',
    b'{"messages": [{"role": 1, "content": "x"}]}', b'{"messages": [{"role": "user", "content": 5}]}',
    b'{"messages": [{"role": "user", "content": [1]}]}', b'{"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]}',
    b'{"messages": [{"role": "user", "content": [{"type": "video"}]}]}',
    b'{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 7}]}]}',
    b'{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,!!"}}]}]}',
    b'{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}]}]}',
    b'{"messages": [{"role": "user", "content": "x"}], "n": "2"}', b'{"messages": [{"role": "user", "content": "x"}], "n": true}',
    b'{"messages": [{"role": "user", "content": "x"}], "n": 0}', b'{"messages": [{"role": "user", "content": "x"}], "n": 1.5}',
    b'{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
    b'{"messages": [{"role": "user", "content": "x"}], "temperature": -1}',
    b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": [5]}',
    b'{"messages": [{"role": "user", "content": "x"}], "seed": "7"}', b'{"messages": [{"role": "user", "content": "x"}], "stop": [1]}',
    b'{"messages": [{"role": "user", "content": "x"}], "stream": true}',
]


@pytest.mark.parametrize("body", MALFORMED, ids=lambda b: b.decode("utf-8", "replace")[:40])
def test_every_malformed_body_is_a_clean_400(body):
    with _serve() as srv:
        resp = _post(srv, body)
    assert _kind(resp) == (400, "invalid_request_error")


@pytest.mark.parametrize("head", [b"", b"Transfer-Encoding: chunked\r\n"])
def test_a_body_without_content_length_is_411(head):
    with _serve() as srv:
        reply = _raw(srv, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411")


def test_one_log_line_per_request(caplog):
    caplog.set_level(logging.INFO, logger="sophia_eval.serve")
    with _serve(max_n=1) as srv:
        _post(srv, HELLO)
        _post(srv, b"[]")
        _post(srv, {**HELLO, "n": 2})
        httpx.get(f"{srv.base_url}/models", timeout=10)
    lines = [r.getMessage() for r in caplog.records]
    assert [ln.split()[2:5] for ln in lines] == [
        ["POST", "/v1/chat/completions", "200"], ["POST", "/v1/chat/completions", "400"],
        ["POST", "/v1/chat/completions", "400"], ["GET", "/v1/models", "200"]], lines


def test_default_model_id_is_short(tmp_path):
    (tmp_path / "runs" / "final").mkdir(parents=True)
    (tmp_path / "m.gguf").write_bytes(b"")
    assert [default_model_id(str(tmp_path / "runs" / "final")), default_model_id(str(tmp_path / "m.gguf")),
            default_model_id("Qwen/Qwen2-VL-2B-Instruct")] == ["final", "m", "Qwen/Qwen2-VL-2B-Instruct"]
