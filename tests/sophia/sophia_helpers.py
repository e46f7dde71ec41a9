"""Helpers shared by the SOPHIA tests and their subprocess workers (a uniquely named module, so it
never collides with another folder's `conftest`)."""

from __future__ import annotations

from pathlib import Path

from sophia_eval.sophia.dataset import TrainExample


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
