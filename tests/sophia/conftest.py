"""Fixtures for the SOPHIA tests (a saved test image); helpers live in `sophia_helpers.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

import tiny_models


@pytest.fixture(scope="session")
def image_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sophia_img") / "img.png"
    tiny_models.make_image().save(path)
    return path
