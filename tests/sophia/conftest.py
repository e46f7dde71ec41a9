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


@pytest.fixture(scope="session")
def tiny_internvl(tiny_models_dir: Path) -> Path:
    """Tiny InternVL-hf (InternVL3 class) with a tiling image processor."""
    return tiny_models.build_internvl(tiny_models_dir)


@pytest.fixture(scope="session")
def tiny_llava_onevision(tiny_models_dir: Path) -> Path:
    """Tiny LLaVA-OneVision (anyres tiling) with its saved processor settings."""
    return tiny_models.build_llava_onevision(tiny_models_dir)


@pytest.fixture(scope="session")
def second_image_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tall image: tiles (InternVL, LLaVA-OneVision) into a different patch count than `image_path`."""
    path = tmp_path_factory.mktemp("sophia_img2") / "tall.png"
    tiny_models.make_image((30, 70), (20, 120, 220)).save(path)
    return path
