"""Fixtures for leaderboard tests (helpers live in lb_helpers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from lb_helpers import write_run


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    def factory(name: str, **kwargs: Any) -> Path:
        return write_run(tmp_path / "runs" / name, **kwargs)

    return factory
