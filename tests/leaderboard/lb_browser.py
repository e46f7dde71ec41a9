"""Render a page in headless Chromium and report what a user's browser would complain about.

Talks the DevTools protocol over `--remote-debugging-pipe` (file descriptors 3 and 4, messages
separated by NUL), so it needs only the standard library: no websocket client, no playwright.
Collects console errors and warnings, uncaught exceptions, browser log errors, failed loads and
every request that leaves the page (a self-contained page makes none), then takes a full-page
screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_loads: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        return self.console_errors + self.exceptions + self.failed_loads + self.external_requests


class _Pipe:
    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int):
        self.proc, self.wfd, self.rfd = proc, to_browser, from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium closed the DevTools pipe (exit code {self.proc.poll()})")
            self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0) -> dict:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read_message(deadline)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)


def render(url: str, screenshot: Path, *, width: int = 1200, height: int = 900, settle_s: float = 0.5) -> PageReport:
    """Load `url` in a fresh headless Chromium profile; return what went wrong and a screenshot."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium binary on PATH")
    report = PageReport()
    with tempfile.TemporaryDirectory(prefix="lb-chromium-") as profile:
        to_r, to_w = os.pipe()      # we write, chromium reads on fd 3
        from_r, from_w = os.pipe()  # chromium writes on fd 4, we read

        def child_fds() -> None:
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, close_fds=True, pass_fds=(3, 4, to_r, from_w),
        )
        os.close(to_r)
        os.close(from_w)
        pipe = _Pipe(proc, to_w, from_r)
        try:
            targets = pipe.send("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            session = pipe.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Page.navigate", {"url": url}, session=session)
            pipe.wait_for("Page.loadEventFired", timeout=60)
            deadline = time.monotonic() + settle_s
            while time.monotonic() < deadline:  # let late console messages arrive
                pipe.send("Runtime.evaluate", {"expression": "1"}, session=session)
                time.sleep(0.05)
            shot = pipe.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                             session=session, timeout=120)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            report.screenshot = screenshot
            for ev in pipe.events:
                method, p = ev.get("method"), ev.get("params", {})
                if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                    args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                    report.console_errors.append(f"console.{p['type']}: {args}")
                elif method == "Runtime.exceptionThrown":
                    d = p.get("exceptionDetails", {})
                    report.exceptions.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
                elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                    report.console_errors.append(f"log.{p['entry']['level']}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
                elif method == "Network.loadingFailed":
                    report.failed_loads.append(f"failed load: {p.get('errorText')} ({p.get('requestId')})")
                elif method == "Network.requestWillBeSent":
                    req_url = p.get("request", {}).get("url", "")
                    if not req_url.startswith(("file:", "data:", "about:")) and req_url != url:
                        report.external_requests.append(f"external request: {req_url}")
            try:
                pipe.send("Browser.close", timeout=10)
            except (RuntimeError, TimeoutError):
                pass
        finally:
            os.close(to_w)
            os.close(from_r)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return report
