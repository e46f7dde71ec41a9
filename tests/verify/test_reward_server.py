"""`sophia-eval reward-server`: both protocols, concurrent clients, every bound, auth and metrics."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

from sophia_eval.reward import OutcomeReward
from sophia_eval.reward_server import RewardClient, RewardServer, RewardServerConfig, make_reward_server


def serve(**kw: Any) -> RewardServer:
    server = make_reward_server(RewardServerConfig(port=0, workers=1, **kw))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url(server: RewardServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


@pytest.fixture(scope="module")
def server() -> Iterator[RewardServer]:
    s = serve(max_body_bytes=100_000, max_batch=50, max_connections=16, timeout=30)  # sympy on a loaded CI box
    yield s
    s.shutdown()
    s.close()


def post(server: RewardServer, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None
    finally:
        conn.close()


GOLDS = ["3", "\\frac{\\sqrt{3}}{2}", "B", "2"]
COMPLETIONS = ["\\boxed{3}", "\\boxed{\\frac{1}{2}\\sqrt{3}}", "The answer is (C).", "<answer>2</answer>"]
META = [None, None, {"options": ["1", "2", "3"]}, None]


def test_batch_endpoint_matches_the_in_process_reward(server: RewardServer) -> None:
    expected = OutcomeReward(timeout=30)(COMPLETIONS, answer=GOLDS, options=[m and m["options"] for m in META])
    assert RewardClient(url(server)).rewards(GOLDS, COMPLETIONS, META) == expected == [1.0, 1.0, 0.0, 1.0]


def test_batch_endpoint_gives_none_and_status_for_missing_gold(server: RewardServer) -> None:
    out = RewardClient(url(server)).score([None], ["\\boxed{None}"])
    assert (out["rewards"], out["statuses"]) == ([None], ["bad_gold"])


def test_openrlhf_protocol(server: RewardServer) -> None:
    body = {"query": ["Q: 1+2?\nA: \\boxed{3}", "Q: pick\nA: \\boxed{7}", "Q: x\nA: \\boxed{1}"],
            "prompts": ["Q: 1+2?\nA: ", "Q: pick\nA: ", "Q: x\nA: "],
            "labels": ["3", json.dumps({"answer": "A", "options": ["7", "8"]}), None]}
    status, out = post(server, "/get_reward", json.dumps(body).encode())
    assert (status, out) == (200, {"rewards": [1.0, 1.0, 0.0], "scores": [1.0, 1.0, 0.0],
                                   "extra_logs": {"verified": [1.0, 1.0, 0.0]}})


def test_concurrent_clients_each_get_their_own_answers(server: RewardServer) -> None:
    def one(i: int) -> list[float | None]:
        golds = [str(i), str(i + 1), f"x^2-{i}^2"]
        comps = [f"\\boxed{{{i}}}", f"\\boxed{{{i}}}", f"\\boxed{{(x-{i})(x+{i})}}"]
        return RewardClient(url(server)).rewards(golds, comps)

    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, range(1, 17)))
    assert results == [[1.0, 0.0, 1.0]] * 16


def test_body_over_the_limit_is_413_unread(server: RewardServer) -> None:
    status, out = post(server, "/reward", b"x" * 200_000)
    assert (status, "limit" in out["error"]) == (413, True)


def test_batch_over_the_limit_is_413(server: RewardServer) -> None:
    body = json.dumps({"items": [{"gold": "1", "completion": "1"}] * 51}).encode()
    status, out = post(server, "/reward", body)
    assert (status, "50-item limit" in out["error"]) == (413, True)


@pytest.mark.parametrize("body", [b"[]", b"{", b"{}", b'{"items": [{"gold": "1"}]}', b'{"items": 3}',
                                  b'{"query": ["a"]}', b'{"query": ["a"], "labels": []}'])
def test_malformed_bodies_are_400_with_a_reason(server: RewardServer, body: bytes) -> None:
    path = "/get_reward" if b"query" in body else "/reward"
    status, out = post(server, path, body)
    assert (status, bool(out["error"])) == (400, True)


def test_compressed_body_is_refused(server: RewardServer) -> None:
    status, _ = post(server, "/reward", b"\x1f\x8b", {"Content-Encoding": "gzip"})
    assert status == 415


def test_trickling_client_gets_408() -> None:
    s = serve(body_timeout=1.0)
    try:
        host, port = s.server_address[:2]
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.sendall(b"POST /reward HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            time.sleep(0.6)
            sock.sendall(b'"')  # still far from 100 bytes when the deadline passes
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 408")
    finally:
        s.shutdown()
        s.close()


def test_requests_beyond_the_concurrency_limit_get_429() -> None:
    s = serve(max_concurrency=1, timeout=5)
    slow = {"items": [{"gold": "5", "completion": r"\boxed{\int_0^{1} e^{-t^2}\sin(t^3) dt}"}]}
    try:
        first = threading.Thread(target=post, args=(s, "/reward", json.dumps(slow).encode()))
        first.start()
        time.sleep(1.0)  # the first request now holds the only slot for ~5 s
        status, out = post(s, "/reward", json.dumps({"items": [{"gold": "1", "completion": "1"}]}).encode())
        first.join(60)
        assert (status, "retry later" in out["error"]) == (429, True)
    finally:
        s.shutdown()
        s.close()


def test_connections_beyond_the_limit_get_503() -> None:
    s = serve(max_connections=2)
    host, port = s.server_address[:2]
    idle = [socket.create_connection((host, port), timeout=30) for _ in range(2)]
    try:
        time.sleep(0.3)
        with socket.create_connection((host, port), timeout=30) as extra:
            reply = extra.recv(4096)
        assert reply.startswith(b"HTTP/1.1 503")
    finally:
        for c in idle:
            c.close()
        s.shutdown()
        s.close()


def test_bearer_token_is_required_when_set() -> None:
    s = serve(api_key="sekrit")
    try:
        body = json.dumps({"items": [{"gold": "1", "completion": "\\boxed{1}"}]}).encode()
        statuses = [post(s, "/reward", body)[0], post(s, "/reward", body, {"Authorization": "Bearer nope"})[0]]
        ok = RewardClient(url(s), api_key="sekrit").rewards(["1"], ["\\boxed{1}"])
        assert (statuses, ok) == ([401, 401], [1.0])
    finally:
        s.shutdown()
        s.close()


def test_metrics_count_statuses_and_answers() -> None:
    s = serve()
    try:
        client = RewardClient(url(s))
        client.rewards(["1", "1", None], ["\\boxed{1}", "\\boxed{2}", "x"])
        post(s, "/reward", b"{")
        m = client.metrics()
        assert (m["statuses"], m["items"], m["responses"]) == (
            {"correct": 1, "incorrect": 1, "bad_gold": 1}, 3, {"200": 1, "400": 1})
    finally:
        s.shutdown()
        s.close()


def test_server_binds_loopback_by_default() -> None:
    assert RewardServerConfig().host == "127.0.0.1"


def test_config_rejects_an_unknown_policy_naming_known_ones() -> None:
    with pytest.raises(ValueError, match="policy"):
        RewardServerConfig(policy="nope")


def running_children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            out.append(int(stat.parent.name))
    return out


def test_cli_serves_and_stops_on_sigterm_with_its_workers() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
           "COLUMNS": "200"}
    cmd = [sys.executable, "-c", "from sophia_eval.cli import main; main()", "reward-server", "--port", "0",
           "--workers", "1"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        m = re.search(r"http://[\d.]+:\d+", line)
        assert m, line
        client = RewardClient(m.group(0))
        assert client.rewards(["2"], ["\\boxed{2}"]) == [1.0]
        workers = running_children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        time.sleep(1.0)
        assert (len(workers), [p for p in workers if Path(f"/proc/{p}/stat").exists()
                               and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"]) == (1, [])
    finally:
        if proc.poll() is None:
            proc.kill()
