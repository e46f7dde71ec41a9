"""Shared pytest fixtures: tiny randomly initialised models built once per test session.

Each fixture returns the path (`pathlib.Path`) of a saved model directory that loads with the
real `from_pretrained` code paths; see `tests/tiny_models.py` for what each one contains.
Load VLM processors with `sophia_eval.backends.hf_loading.load_processor` (works without
torchvision).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import tiny_models  # noqa: E402  (tests/ is not a package; made importable just above)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny_models")


@pytest.fixture(scope="session")
def tiny_text_model(tiny_models_dir: Path) -> Path:
    """Tiny Qwen2 causal LM (text only), ChatML template, byte-level BPE tokenizer."""
    return tiny_models.build_text_model(tiny_models_dir)


@pytest.fixture(scope="session")
def tiny_qwen2vl(tiny_models_dir: Path) -> Path:
    """Tiny Qwen2-VL with its PIL image processor (processor loads via `load_processor`)."""
    return tiny_models.build_qwen2vl(tiny_models_dir)


@pytest.fixture(scope="session")
def tiny_qwen25vl(tiny_models_dir: Path) -> Path:
    """Tiny Qwen2.5-VL with its PIL image processor (processor loads via `load_processor`)."""
    return tiny_models.build_qwen25vl(tiny_models_dir)


@pytest.fixture(scope="session")
def tiny_llava(tiny_models_dir: Path) -> Path:
    """Tiny LLaVA-1.5-style model (CLIP vision + Llama text) with a full LlavaProcessor."""
    return tiny_models.build_llava(tiny_models_dir)


@pytest.fixture
def tiny_image():
    """A small RGB PIL image (40x30)."""
    return tiny_models.make_image()
