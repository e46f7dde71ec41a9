"""What `sophia-eval serve` does under the abuse issue 13 found, with its default limits.

Serves the tiny random Qwen2 (transformers backend) in this process and reports:
- 300 connections that send nothing: threads in use, how many were answered 429 at once, and
  when a well-formed request is served again;
- a 1 MB prompt: the answer, its time and the growth of peak memory;
- a 50 MB body and a decompression-bomb PNG: the answer and its time.

    .venv/bin/python perf/serve_limits.py [--stalled 300] [--read-timeout 30]
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import socket
import struct
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # tiny_models lives with the test fixtures


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed_post(url: str, content: bytes) -> tuple[int, float]:
    t0 = time.perf_counter()
    resp = httpx.post(url, content=content, timeout=600)
    return resp.status_code, time.perf_counter() - t0


def _bomb_png(side: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stalled", type=int, default=300)
    ap.add_argument("--read-timeout", type=float, default=30.0)
    args = ap.parse_args()

    import tiny_models

    from sophia_eval.backends import make_generator
    from sophia_eval.backends.serve import ServeLimits, ServerThread

    model = tiny_models.build_text_model(tempfile.mkdtemp())
    limits = ServeLimits(read_timeout_s=args.read_timeout)
    gen = make_generator("transformers", str(model))
    with ServerThread(gen, limits=limits) as srv:
        url = f"{srv.base_url}/chat/completions"
        hello = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}).encode()
        host, port = srv.server.server_address[:2]

        threads_before = threading.active_count()
        t0 = time.perf_counter()
        socks = [socket.create_connection((host, port)) for _ in range(args.stalled)]
        time.sleep(1)
        threads_stalled = threading.active_count() - threads_before
        refused = 0
        for s in socks:
            s.settimeout(0.05)
            try:
                refused += s.recv(64).startswith(b"HTTP/1.1 429")
            except OSError:
                pass
        during = httpx.post(url, content=hello, timeout=30).status_code
        while (status := httpx.post(url, content=hello, timeout=30).status_code) != 200:
            time.sleep(0.5)
        served_again = time.perf_counter() - t0
        for s in socks:
            s.close()
        print(f"{args.stalled} stalled connections: {threads_stalled} handler threads, {refused} answered 429 at once; "
              f"a request meanwhile: {during}; served again after {served_again:.1f} s (read timeout {args.read_timeout:g} s)")

        rss0 = _peak_rss_mb()
        big_prompt = json.dumps({"messages": [{"role": "user", "content": "the cat sat on the mat. " * 43690}]}).encode()
        status, took = _timed_post(url, big_prompt)
        print(f"1 MB prompt ({len(big_prompt):,} bytes): HTTP {status} in {took:.2f} s; peak RSS {rss0:.0f} -> {_peak_rss_mb():.0f} MB")

        status, took = _timed_post(url, b'{"pad": "' + b"x" * 50_000_000 + b'"}')
        print(f"50 MB body: HTTP {status} in {took:.2f} s")

        png = base64.b64encode(_bomb_png(100_000)).decode()
        bomb = json.dumps({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]}]}).encode()
        status, took = _timed_post(url, bomb)
        print(f"decompression bomb (100000x100000 PNG, {len(bomb)} bytes): HTTP {status} in {took:.3f} s")


if __name__ == "__main__":
    main()
