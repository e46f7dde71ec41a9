"""OpenAI-compatible backend against the real `serve.py` HTTP server on a free localhost port."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from sophia_eval.backends import make_generator
from sophia_eval.backends.base import BackendError, Completion, GenerationConfig
from sophia_eval.backends.serve import ServerThread

CFG = GenerationConfig(n=2, temperature=1.0, top_p=0.9, max_new_tokens=5, seed=3)
FAST = dict(backoff_s=0.01, max_backoff_s=0.05, connect_timeout_s=1.0)


def _text(q: str) -> list[dict]:
    return [{"role": "user", "content": q}]


class Echo:
    """A zero-latency generator: echoes the last user text; counts calls; can fail or stall."""

    name = "echo"

    def __init__(self, fail_first: int = 0, sleep_s: float = 0.0) -> None:
        self.calls, self.fail_first, self.sleep_s = 0, fail_first, sleep_s
        self.batch_sizes: list[int] = []
        self.lock = threading.Lock()

    def describe(self) -> dict:
        return {"backend": "echo"}

    def generate(self, conversations, config):
        with self.lock:
            self.calls += 1
            self.batch_sizes.append(len(conversations))
            fail = self.calls <= self.fail_first
        if fail:
            raise RuntimeError("injected failure")
        time.sleep(self.sleep_s)
        out = []
        for conv in conversations:
            content = conv[-1]["content"]
            text = content if isinstance(content, str) else " ".join(
                p.get("text", "") if p["type"] == "text" else f"<image {p['image'].size[0]}x{p['image'].size[1]}>"
                for p in content
            )
            out.append([Completion(text=text, finish_reason="stop", prompt_tokens=3, completion_tokens=1)] * config.n)
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_round_trip_through_server_wrapping_the_transformers_backend(tiny_text_model):
    local = make_generator("transformers", str(tiny_text_model), batch_size=4)
    with ServerThread(local, model_name="tiny") as srv:
        remote = make_generator("openai", "tiny", base_url=srv.base_url, **FAST)
        out = remote.generate([_text("What is 2 + 3?"), _text("a")], CFG)
    assert [len(cs) for cs in out] == [2, 2] and all(c.error is None for cs in out for c in cs)
    # A random tiny model rarely samples its end token: "length" exactly when the budget is used up.
    assert all((c.finish_reason == "length") == (c.completion_tokens == 5) for cs in out for c in cs)


def test_token_counts_come_back_per_sample(tiny_text_model):
    local = make_generator("transformers", str(tiny_text_model), batch_size=4)
    with ServerThread(local, model_name="tiny") as srv:
        remote = make_generator("openai", "tiny", base_url=srv.base_url, **FAST)
        (c,) = remote.generate([_text("What is 2 + 3?")], GenerationConfig(temperature=0, max_new_tokens=5))[0]
    assert (c.completion_tokens, c.prompt_tokens > 0) == (5, True)


def test_images_travel_as_data_urls(tiny_image):
    with ServerThread(Echo()) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, **FAST)
        conv = [{"role": "user", "content": [{"type": "image", "image": tiny_image}, {"type": "text", "text": "q"}]}]
        (c,) = remote.generate([conv], GenerationConfig())[0]
    assert c.text == "<image 40x30> q"


def test_results_stay_in_order_under_concurrency():
    with ServerThread(Echo(), max_batch=4) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, concurrency=8, **FAST)
        out = remote.generate([_text(str(i)) for i in range(20)], GenerationConfig(n=2))
    assert [cs[1].text for cs in out] == [str(i) for i in range(20)]


def test_server_error_is_retried_until_success():
    echo = Echo(fail_first=2)
    with ServerThread(echo) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, max_retries=3, **FAST)
        (c,) = remote.generate([_text("hello")], GenerationConfig())[0]
    assert (c.text, echo.calls) == ("hello", 3)


def test_persistent_server_error_becomes_error_completion_not_empty_answer():
    with ServerThread(Echo(fail_first=100)) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, max_retries=1, **FAST)
        (c,) = remote.generate([_text("hello")], GenerationConfig())[0]
    assert c.finish_reason == "error" and "HTTP 500" in c.error and "injected failure" in c.error


def test_timeout_becomes_error_completion_naming_the_timeout():
    with ServerThread(Echo(sleep_s=1.0)) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, timeout_s=0.2, max_retries=0, **FAST)
        (c,) = remote.generate([_text("hello")], GenerationConfig())[0]
    assert c.finish_reason == "error" and "timed out" in c.error


def test_down_server_raises_quickly_with_the_url():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    t0 = time.perf_counter()
    with pytest.raises(BackendError, match=url):
        make_generator("openai", "m", base_url=url, **FAST)
    assert time.perf_counter() - t0 < 3


def test_server_going_down_mid_run_raises_backend_error():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    remote = make_generator("openai", "m", base_url=url, check_server=False, max_retries=1, **FAST)
    with pytest.raises(BackendError, match="unreachable"):
        remote.generate([_text("a")], GenerationConfig())


def test_bad_image_path_is_an_error_for_that_item_only(tmp_path):
    with ServerThread(Echo()) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, **FAST)
        bad = [{"role": "user", "content": [{"type": "image", "image": str(tmp_path / "x.png")}]}]
        out = remote.generate([bad, _text("ok")], GenerationConfig())
    assert (out[0][0].finish_reason, out[1][0].text) == ("error", "ok")


def test_distinct_seeds_per_sample_are_sent(tiny_text_model):
    local = make_generator("transformers", str(tiny_text_model))
    with ServerThread(local, model_name="tiny") as srv:
        remote = make_generator("openai", "tiny", base_url=srv.base_url, **FAST)
        out = remote.generate([_text("What is")], GenerationConfig(n=4, max_new_tokens=8, seed=1))
    assert len({c.text for c in out[0]}) > 1


def test_extra_body_and_token_field_reach_the_server(monkeypatch):
    import sophia_eval.backends.serve as serve

    seen = []
    real = serve.parse_config
    monkeypatch.setattr(serve, "parse_config", lambda body, **kw: (seen.append(body), real(body, **kw))[1])
    with ServerThread(Echo()) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, max_tokens_field="max_completion_tokens",
                                extra_body={"top_k": 5}, **FAST)
        remote.generate([_text("x")], GenerationConfig(max_new_tokens=7))
    assert (seen[0]["max_completion_tokens"], seen[0]["top_k"], "max_tokens" in seen[0]) == (7, 5, False)


def _remote_image(url: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]


def test_one_rejected_request_is_an_error_completion_for_that_item():
    with ServerThread(Echo()) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, **FAST)
        bad, good = remote.generate([_remote_image("http://example.invalid/x.png"), _text("ok")], GenerationConfig())
    assert (bad[0].finish_reason, "HTTP 400" in bad[0].error, good[0].text) == ("error", True, "ok")


def test_every_request_rejected_raises_backend_error_with_the_server_message():
    with ServerThread(Echo()) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, **FAST)
        with pytest.raises(BackendError, match="rejected every request.*data URLs"):
            remote.generate([_remote_image("http://example.invalid/x.png")] * 2, GenerationConfig())


def test_concurrent_requests_with_different_seeds_share_server_batches():
    echo = Echo(sleep_s=0.05)
    with ServerThread(echo, max_batch=8) as srv:
        remote = make_generator("openai", "auto", base_url=srv.base_url, concurrency=8, **FAST)
        remote.generate([_text(str(i)) for i in range(16)], GenerationConfig(seed=0))
    assert max(echo.batch_sizes) > 1 and sum(echo.batch_sizes) == 16
