"""Rich progress bar for generation and scoring: samples/s, tokens/s and ETA."""

from __future__ import annotations

import time
from typing import Any


class Progress:
    """Rich progress bar with samples/s, tokens/s and ETA (silent when disabled)."""

    def __init__(self, title: str, total: int, *, enabled: bool):
        self.title, self.total, self.enabled = title, total, enabled and total > 0
        self.tokens, self.started = 0, time.perf_counter()

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task(self.title, total=self.total, rate="")
        return self

    def advance(self, samples: int, tokens: int) -> None:
        if not self.enabled:
            return
        self.tokens += tokens
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        done = self.progress.tasks[0].completed + samples
        self.progress.update(self.task, advance=samples, rate=f"{done / elapsed:.2f} samples/s · {self.tokens / elapsed:.1f} tok/s")

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.progress.__exit__(*exc)
