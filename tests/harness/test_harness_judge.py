"""LLM extractor/judge against a small local OpenAI-compatible HTTP server (no network)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sophia_eval.harness.judge import Judge, JudgeCache, JudgeConfig


class _Server:
    def __init__(self, reply="CORRECT", status=200):
        self.reply, self.status, self.calls = reply, status, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.calls += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert body["temperature"] == 0.0
                payload = json.dumps({"choices": [{"message": {"content": outer.reply}}]}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _rec(status, response="long reasoning... final: 42", gold="42"):
    return {"item_id": "a", "sample_index": 0, "status": status, "correct": status == "correct", "response": response,
            "gold": gold, "verify_kwargs": {"policy": "default"}, "extracted": None}


def _judge(server, tmp_path, **kw):
    required = kw.pop("required", False)
    return Judge(JudgeConfig(base_url=server.url, model="judge-llm", cache_dir=str(tmp_path / "cache"),
                             retries=kw.pop("retries", 0), **kw), required=required)


def test_rule_verdicts_are_left_alone(server, tmp_path):
    recs = [_rec("correct"), _rec("incorrect")]
    _judge(server, tmp_path).apply(recs)
    assert server.calls == 0 and [r["status"] for r in recs] == ["correct", "incorrect"]


def test_required_judge_can_overturn_a_rule_rejection(server, tmp_path):
    recs = [_rec("incorrect")]
    _judge(server, tmp_path, required=True).apply(recs)
    assert (recs[0]["status"], recs[0]["correct"], recs[0]["method"]) == ("correct", True, "llm_judge")


def test_extraction_is_verified_by_the_rules(server, tmp_path):
    server.reply = "42"
    recs = [_rec("no_answer")]
    _judge(server, tmp_path).apply(recs)
    assert (recs[0]["status"], recs[0]["extracted"]) == ("correct", "42")


def test_extraction_of_wrong_answer_is_incorrect(server, tmp_path):
    server.reply = "41"
    recs = [_rec("no_answer")]
    _judge(server, tmp_path).apply(recs)
    assert recs[0]["status"] == "incorrect"


def test_failed_call_is_a_judge_error_not_wrong(server, tmp_path):
    server.status = 500
    recs = [_rec("no_answer")]
    _judge(server, tmp_path, retries=1).apply(recs)
    assert (recs[0]["status"], recs[0]["correct"], server.calls) == ("judge_error", None, 2)


def test_unreachable_judge_is_a_judge_error(tmp_path):
    judge = Judge(JudgeConfig(base_url="http://127.0.0.1:9/v1", model="m", cache_dir=str(tmp_path), retries=0,
                              timeout_s=2))
    recs = [_rec("no_answer")]
    judge.apply(recs)
    assert recs[0]["status"] == "judge_error" and "failed after 1 attempts" in recs[0]["reason"]


def test_unparsable_judge_reply_is_a_judge_error(server, tmp_path):
    server.reply = "maybe?"
    recs = [_rec("incorrect")]
    _judge(server, tmp_path, required=True).apply(recs)
    assert recs[0]["status"] == "judge_error"


def test_second_identical_call_comes_from_disk_cache(server, tmp_path):
    _judge(server, tmp_path, required=True).apply([_rec("incorrect")])
    recs = [_rec("incorrect")]
    _judge(server, tmp_path, required=True).apply(recs)
    assert server.calls == 1 and recs[0]["judge"]["cached"] is True


def test_cache_key_depends_on_model_and_inputs():
    msgs = [{"role": "user", "content": "x"}]
    assert len({JudgeCache.key("a", msgs), JudgeCache.key("b", msgs),
                JudgeCache.key("a", [{"role": "user", "content": "y"}])}) == 3


def test_calls_run_in_parallel(server, tmp_path):
    recs = [dict(_rec("incorrect"), response=f"r{i}") for i in range(16)]
    _judge(server, tmp_path, required=True, max_concurrency=4).apply(recs)
    assert all(r["status"] == "correct" for r in recs) and server.calls == 16


def test_config_rejects_non_http_url():
    with pytest.raises(ValueError, match="http"):
        JudgeConfig(base_url="localhost:8000", model="m")
