"""Optional LLM answer extractor / judge through any OpenAI-compatible chat endpoint.

Rule first: the verifier always runs; the LLM is asked only
- to *extract* an answer where the rules found none (`no_answer`), the extraction is then
  verified by the same rules; and
- to *judge* a response the rules did not accept, when the benchmark's official protocol
  requires an LLM judge (MMMU, MathVerse, MV-MATH under the SOPHIA protocol).

Every call is cached on disk by (model, prompt, inputs), so re-scoring costs nothing twice, and
calls run in parallel threads. A failed call (HTTP error, timeout, unreadable reply) sets the
record's status to `judge_error` with `correct = null`: a judge failure, never a wrong answer.
Not configuring a judge is an explicit choice recorded in run.json (`judge: null`); nothing
falls back to an LLM silently, and a benchmark that requires a judge is scored by rules only,
which its summary states.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from sophia_eval.runs.records import verify_request
from sophia_eval.verify import verify_many
from sophia_eval.verify.vocab import SCORED_STATUSES

JUDGE_PROMPT_VERSION = "1"
"""Bump when a prompt below changes: it is part of the cache key and of the run config."""

EXTRACT_SYSTEM = (
    "You extract the final answer from a solution to a math problem. Reply with the final answer "
    "only, exactly as the solution states it (a number, expression, interval, option letter, ...), "
    "with no explanation. If the solution gives no final answer, reply [NONE]."
)
EXTRACT_SHOTS = (
    ("...so the area is 12 square units.", "12"),
    ("Comparing the options, (B) matches the graph.", "B"),
    ("Hence x lies in the open interval from 1 to 3.", "(1, 3)"),
    ("I am not sure how to proceed with this one.", "[NONE]"),
)
JUDGE_SYSTEM = (
    "You judge whether a model's final answer to a problem is equivalent to the reference answer. "
    "Consider mathematical equivalence, units and option letters vs option texts. Reply with one "
    "word: CORRECT or INCORRECT."
)


class JudgeError(RuntimeError):
    """One judge call failed after its retries (recorded as `judge_error`, never as wrong)."""


@dataclass(frozen=True)
class JudgeConfig:
    """Where and how to call the LLM judge."""

    base_url: str
    """OpenAI-compatible endpoint, e.g. `http://localhost:8000/v1`."""
    model: str
    """Served model name, e.g. `Qwen/Qwen2.5-72B-Instruct` (the SOPHIA paper's judge)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (read at call time, never stored in records)."""
    cache_dir: str | None = None
    """Disk cache of judge calls; None: `$XDG_CACHE_HOME/sophia-eval/judge` (default `~/.cache/...`)."""
    max_concurrency: int = 8
    timeout_s: float = 60.0
    retries: int = 2
    """Extra attempts after the first, with exponential backoff."""
    max_response_chars: int = 4000
    """Only the tail of long responses is sent (the final answer is at the end)."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"judge base_url must start with http:// or https://, got {self.base_url!r}")
        if not self.model:
            raise ValueError("judge model is empty; pass the served model name (--judge-model)")
        if self.max_concurrency < 1 or self.retries < 0 or self.timeout_s <= 0:
            raise ValueError("judge needs max_concurrency >= 1, retries >= 0 and timeout_s > 0")

    def to_config(self) -> dict[str, Any]:
        """The part that defines results (no key, no cache location)."""
        return {"base_url": self.base_url, "model": self.model, "prompt_version": JUDGE_PROMPT_VERSION}


class JudgeCache:
    """One JSON file per call, keyed by sha256 of (model, prompt version, messages)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    @staticmethod
    def key(model: str, messages: Sequence[Mapping[str, str]]) -> str:
        blob = json.dumps([model, JUDGE_PROMPT_VERSION, list(messages)], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))["output"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return None

    def put(self, key: str, output: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"output": output}, fh)
        os.replace(tmp, path)


def extraction_messages(response: str) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": EXTRACT_SYSTEM}]
    for text, answer in EXTRACT_SHOTS:
        msgs += [{"role": "user", "content": f"Solution:\n{text}"}, {"role": "assistant", "content": answer}]
    msgs.append({"role": "user", "content": f"Solution:\n{response}"})
    return msgs


def judge_messages(gold: str, response: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": f"Reference answer: {gold}\n\nModel solution:\n{response}\n\nVerdict:"},
    ]


class Judge:
    """Applies extraction/judging to scored records in place (see module doc)."""

    def __init__(self, config: JudgeConfig, *, required: bool = False):
        self.config, self.required = config, required
        default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sophia-eval" / "judge"
        self.cache = JudgeCache(config.cache_dir or default)
        self.calls = 0
        self.cache_hits = 0

    def complete(self, messages: list[dict[str, str]]) -> tuple[str, bool]:
        """(reply text, from_cache). Raises JudgeError after retries."""
        key = JudgeCache.key(self.config.model, messages)
        cached = self.cache.get(key)
        if cached is not None:
            self.cache_hits += 1
            return cached, True
        import httpx

        headers = {}
        if os.environ.get(self.config.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[self.config.api_key_env]}"
        url = self.config.base_url.rstrip("/") + "/chat/completions"
        body = {"model": self.config.model, "messages": messages, "temperature": 0.0, "max_tokens": 256}
        last = "no attempt"
        for attempt in range(self.config.retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            try:
                self.calls += 1
                resp = httpx.post(url, json=body, headers=headers, timeout=self.config.timeout_s)
                if resp.status_code >= 400:
                    last = f"HTTP {resp.status_code} from {url}: {resp.text[:200]}"
                    continue
                text = resp.json()["choices"][0]["message"]["content"]
                if not isinstance(text, str):
                    raise TypeError(f"message content is {type(text).__name__}, expected text")
                self.cache.put(key, text)
                return text, False
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise JudgeError(f"judge {self.config.model} at {url} failed after {self.config.retries + 1} attempts: {last}")

    def _task(self, record: Mapping[str, Any]) -> str | None:
        status = record.get("status")
        if status == "no_answer":
            return "extract"
        if self.required and status == "incorrect":
            return "judge"
        return None

    def apply(self, records: list[dict[str, Any]], pool: Any = None) -> list[dict[str, Any]]:
        todo = [(r, t) for r in records if (t := self._task(r))]
        if not todo:
            return records
        tail = self.config.max_response_chars

        def one(item: tuple[dict[str, Any], str]) -> tuple[str | None, bool, str | None]:
            rec, task = item
            response = (rec.get("response") or "")[-tail:]
            msgs = extraction_messages(response) if task == "extract" else judge_messages(str(rec["gold"]), response)
            try:
                text, cached = self.complete(msgs)
                return text.strip(), cached, None
            except JudgeError as exc:
                return None, False, str(exc)

        with ThreadPoolExecutor(self.config.max_concurrency) as ex:
            results = list(ex.map(one, todo))
        reverify: list[dict[str, Any]] = []
        for (rec, task), (text, cached, err) in zip(todo, results):
            rec["judge"] = {"model": self.config.model, "task": task, "output": text, "cached": cached}
            if err is not None:
                rec.update(status="judge_error", correct=None, method=f"llm_{task}", reason=err)
            elif task == "judge":
                verdict = text.upper().split()[0].strip(".:") if text else ""
                if verdict not in ("CORRECT", "INCORRECT"):
                    rec.update(status="judge_error", correct=None, method="llm_judge",
                               reason=f"judge reply is not CORRECT/INCORRECT: {text[:80]!r}")
                else:
                    ok = verdict == "CORRECT"
                    rec.update(status="correct" if ok else "incorrect", correct=ok, method="llm_judge",
                               reason="LLM judge")
            elif text and text != "[NONE]":
                reverify.append((rec, text))  # type: ignore[arg-type]
            # "[NONE]": the LLM agrees there is no answer; the rule verdict `no_answer` stands
        if reverify:
            self._reverify(reverify, pool)  # type: ignore[arg-type]
        return records

    def _reverify(self, pairs: list[tuple[dict[str, Any], str]], pool: Any) -> None:
        requests = [{**verify_request(rec), "pred": f"\\boxed{{{text}}}"} for rec, text in pairs]
        if pool is not None:
            verdicts = pool.verify_many(requests)
        else:
            verdicts = verify_many(requests)
        for (rec, text), v in zip(pairs, verdicts):
            scored = v.status in SCORED_STATUSES
            rec.update(extracted=text, status=v.status, correct=v.correct if scored else None,
                       method=f"llm_extract+{v.method}", reason=v.reason)
