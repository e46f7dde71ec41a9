"""Progress of generation, scoring and validation: samples/s, tokens/s and ETA.

On a terminal, a rich progress bar. Otherwise (a log file under SLURM or nohup, a pipe) plain
lines, one every `SOPHIA_EVAL_PROGRESS_EVERY` seconds (default 30) and one at the end, so a log
shows that a long run is alive and how long it has left.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

ENV_INTERVAL = "SOPHIA_EVAL_PROGRESS_EVERY"
DEFAULT_INTERVAL_S = 30.0


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Progress:
    """Progress bar (terminal) or periodic plain lines (anything else); silent when disabled."""

    def __init__(self, title: str, total: int, *, enabled: bool, unit: str = "samples", stream: TextIO | None = None):
        self.title, self.total, self.unit = title, total, unit
        self.enabled = enabled and total > 0
        self.stream = stream or sys.stdout
        self.plain = not self.stream.isatty()
        self.done, self.tokens, self.started = 0, 0, time.perf_counter()
        self.interval = float(os.environ.get(ENV_INTERVAL) or DEFAULT_INTERVAL_S)
        self.last_line = self.started

    def __enter__(self) -> "Progress":
        if self.enabled and not self.plain:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task(self.title.replace("[", "\\["), total=self.total, rate="")
        return self

    def _rates(self) -> tuple[float, str]:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{rate:.2f} {self.unit}/s"
        if self.tokens:
            text += f" · {self.tokens / elapsed:.1f} tok/s"
        return rate, text

    def line(self) -> str:
        """The plain progress line: items done, rate, elapsed and ETA."""
        rate, text = self._rates()
        elapsed = time.perf_counter() - self.started
        eta = _duration((self.total - self.done) / rate) if rate > 0 else "unknown"
        pct = 100 * self.done / self.total if self.total else 100.0
        return (f"[progress] {self.title}: {self.done}/{self.total} {self.unit} ({pct:.0f}%), {text}, "
                f"elapsed {_duration(elapsed)}, ETA {eta}")

    def advance(self, count: int, tokens: int = 0) -> None:
        if not self.enabled:
            return
        self.done += count
        self.tokens += tokens
        if self.plain:
            now = time.perf_counter()
            if now - self.last_line >= self.interval and self.done < self.total:
                self.last_line = now
                print(self.line(), file=self.stream, flush=True)
            return
        self.progress.update(self.task, advance=count, rate=self._rates()[1])

    def __exit__(self, *exc: Any) -> None:
        if not self.enabled:
            return
        if self.plain:
            print(self.line(), file=self.stream, flush=True)
        else:
            self.progress.__exit__(*exc)
