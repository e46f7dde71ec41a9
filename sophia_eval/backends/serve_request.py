"""Request bodies of `sophia-eval serve`, checked field by field: anything malformed is a RequestError
(HTTP 400) that says what was expected, never an exception that drops the connection.

Images arrive as base64 data URLs; their size in pixels is read from the header and checked
against a per-request budget before any pixel is decoded (decompression bombs are refused).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from typing import Any

from sophia_eval.backends.base import Conversation, GenerationConfig

DEFAULT_MAX_TOKENS = 512
"""New tokens when a request names neither `max_tokens` nor `max_completion_tokens`."""


class RequestError(ValueError):
    """The client sent something this server cannot handle (HTTP 400 unless `status` says otherwise)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"request body is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError(f"request body must be a JSON object, got {type(body).__name__}")
    if body.get("stream"):
        raise RequestError("streaming is not supported by this server; send stream=false")
    return body


class _PixelBudget:
    """Pixels left for the images of one request."""

    def __init__(self, pixels: int) -> None:
        self.left = pixels
        self.total = pixels

    def take(self, width: int, height: int) -> None:
        self.left -= width * height
        if self.left < 0:
            raise RequestError(
                f"images of this request exceed {self.total:,} pixels in total (this one is {width}x{height}); "
                "send smaller images or raise --max-image-pixels", status=413)


def decode_image(url: Any, budget: _PixelBudget) -> Any:
    """A PIL image from a base64 data URL, its pixel count checked before decoding."""
    from PIL import Image

    if not isinstance(url, str) or not url.startswith("data:"):
        raise RequestError("only base64 data URLs are accepted for images (this server does not fetch URLs)")
    try:
        data = base64.b64decode(url.partition(",")[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(f"image data URL is not valid base64: {exc}") from None
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as exc:
        raise RequestError(f"image refused: {exc}", status=413) from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for bad data; all are the client's
        raise RequestError(f"cannot decode image data URL: {type(exc).__name__}: {exc}") from None
    budget.take(*image.size)
    try:
        image.load()
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt pixel data
        raise RequestError(f"cannot decode image data URL: {type(exc).__name__}: {exc}") from None
    return image


def _part(p: Any, where: str, budget: _PixelBudget) -> dict[str, Any]:
    if not isinstance(p, dict):
        raise RequestError(f"{where} must be an object with a 'type', got {type(p).__name__}")
    kind = p.get("type")
    if kind == "text":
        if not isinstance(p.get("text"), str):
            raise RequestError(f"{where}.text must be a string")
        return {"type": "text", "text": p["text"]}
    if kind == "image_url":
        ref = p.get("image_url")
        url = ref.get("url") if isinstance(ref, dict) else ref
        return {"type": "image", "image": decode_image(url, budget)}
    raise RequestError(f"{where}: unsupported content part type {kind!r}; expected text or image_url")


def parse_messages(messages: Any, *, max_image_pixels: int) -> Conversation:
    """OpenAI chat messages -> contract messages (image_url data URLs -> PIL images)."""
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    budget = _PixelBudget(max_image_pixels)
    conv: Conversation = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError(f"{where} must be an object with a string 'role' and a 'content'")
        content = m.get("content")
        if isinstance(content, list):
            content = [_part(p, f"{where}.content[{k}]", budget) for k, p in enumerate(content)]
        elif content is None:
            content = ""
        elif not isinstance(content, str):
            raise RequestError(f"{where}.content must be a string or a list of parts, got {type(content).__name__}")
        conv.append({"role": m["role"], "content": content})
    return conv


def _int(body: dict[str, Any], key: str, default: int | None) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"'{key}' must be an integer, got {json.dumps(value)[:40]}")
    return value


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"'{key}' must be a number, got {json.dumps(value)[:40]}")
    return float(value)


def parse_config(body: dict[str, Any], *, max_n: int, max_new_tokens: int) -> GenerationConfig:
    """Decoding settings of a request, within this server's limits on `n` and new tokens."""
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise RequestError("'stop' must be a string or a list of strings")
    n = _int(body, "n", 1)
    tokens = _int(body, "max_completion_tokens", None) or _int(body, "max_tokens", DEFAULT_MAX_TOKENS)
    if n is not None and n > max_n:
        raise RequestError(f"'n' is {n}; this server returns at most {max_n} samples per request (--max-n)")
    if tokens is not None and tokens > max_new_tokens:
        raise RequestError(f"max_tokens is {tokens}; this server generates at most {max_new_tokens} (--max-new-tokens)")
    try:
        return GenerationConfig(
            n=n, temperature=_number(body, "temperature", 1.0), top_p=_number(body, "top_p", 1.0),
            max_new_tokens=tokens, seed=_int(body, "seed", None), stop=tuple(stop or ()),
        )
    except ValueError as exc:
        raise RequestError(str(exc)) from None
