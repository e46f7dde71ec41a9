"""The openai backend against servers that misbehave: every fault is an `error` completion or a
recovered answer, never an exception that stops a run and never text scored as a wrong answer."""

from __future__ import annotations

import pytest
from stub_servers import StubServer, chat_reply, reset, trickle

from sophia_eval.backends import make_generator
from sophia_eval.backends.base import GenerationConfig

FAST = dict(backoff_s=0.01, max_backoff_s=0.05, connect_timeout_s=1.0)
HELLO = [[{"role": "user", "content": "hello"}]]


def _one(server: StubServer, **options) -> object:
    remote = make_generator("openai", "stub", base_url=server.base_url, **{**FAST, **options})
    return remote.generate(HELLO, GenerationConfig())[0][0]


def test_content_as_a_list_of_text_parts_is_joined():
    parts = [{"type": "text", "text": "The answer is "}, {"type": "output_text", "text": "\\boxed{4}"}, "."]
    with StubServer(chat_reply(parts)) as srv:
        c = _one(srv)
    assert (c.finish_reason, c.text) == ("stop", "The answer is \\boxed{4}.")


def test_list_content_with_a_non_text_part_is_an_error_naming_the_part():
    with StubServer(chat_reply([{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}])) as srv:
        c = _one(srv)
    assert (c.finish_reason, c.text, "refusal" in c.error) == ("error", "", True)


@pytest.mark.parametrize("content", [42, {"text": "4"}, True, 4.5])
def test_non_text_content_is_an_error_completion(content):
    with StubServer(chat_reply(content)) as srv:
        c = _one(srv)
    assert (c.finish_reason, c.text, type(content).__name__ in c.error) == ("error", "", True)


def test_non_text_reasoning_is_an_error_completion():
    with StubServer(chat_reply("4", reasoning_content=7)) as srv:
        c = _one(srv)
    assert c.finish_reason == "error" and "reasoning" in c.error


def test_empty_content_with_finish_stop_is_an_error_not_a_wrong_answer():
    with StubServer(chat_reply("")) as srv:
        c = _one(srv, max_retries=0)
    assert (c.finish_reason, "empty" in c.error) == ("error", True)


def test_empty_content_cut_by_the_token_limit_stays_a_truncation():
    with StubServer(chat_reply("", finish_reason="length")) as srv:
        c = _one(srv)
    assert (c.finish_reason, c.text) == ("length", "")


@pytest.mark.parametrize("payload", [b"[]", b'{"choices": ["x"]}', b'{"choices": [{"message": 3}]}', b"not json"])
def test_malformed_200_bodies_are_error_completions(payload):
    from stub_servers import http_reply

    with StubServer(lambda sock, body: sock.sendall(http_reply(200, payload))) as srv:
        c = _one(srv)
    assert (c.finish_reason, "malformed" in c.error) == ("error", True)


def test_a_trickling_server_hits_the_request_deadline():
    # One byte every 0.3 s keeps a per-read timeout of 1 s from ever firing; the request deadline
    # (connect + whole body) must end it. Without the deadline this reports an incomplete body
    # after ~3000 s instead.
    with StubServer(trickle(0.3)) as srv:
        c = _one(srv, timeout_s=1.0, max_retries=0)
    assert (c.finish_reason, "timed out after 1 s" in c.error) == ("error", True)


def test_a_reset_connection_is_retried():
    with StubServer(reset, chat_reply("4")) as srv:
        c = _one(srv, max_retries=2)
        attempts = len(srv.requests)
    assert (c.finish_reason, c.text, attempts) == ("stop", "4", 2)


def test_a_connection_reset_every_time_is_an_error_completion():
    with StubServer(reset) as srv:
        c = _one(srv, max_retries=1)
    assert c.finish_reason == "error" and "after 2 attempt(s)" in c.error
