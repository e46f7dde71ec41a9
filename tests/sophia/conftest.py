"""Fixtures for the SOPHIA tests: a saved test image and tiny supervised examples."""

from __future__ import annotations

from pathlib import Path

import pytest

import tiny_models
from sophia_eval.sophia.dataset import TrainExample


@pytest.fixture(scope="session")
def image_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sophia_img") / "img.png"
    tiny_models.make_image().save(path)
    return path


def make_examples(image: Path | None, n: int = 8) -> list[TrainExample]:
    """`n` image (or text-only) arithmetic chats with a short boxed answer."""
    out = []
    for i in range(n):
        question = f"What is {i}+3?"
        content = question if image is None else [{"type": "image", "image": str(image)},
                                                  {"type": "text", "text": question}]
        out.append(TrainExample(id=str(i), messages=(
            {"role": "user", "content": content},
            {"role": "assistant", "content": f"The answer is \\boxed{{{i + 3}}}."})))
    return out
