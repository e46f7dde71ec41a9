"""Importing the backends package (as the CLI does at startup) pulls no heavy dependency."""

from __future__ import annotations

import subprocess
import sys


def test_backends_import_without_torch_transformers_vllm_httpx():
    code = (
        "import sys, sophia_eval.backends, sophia_eval.backends.demo, sophia_eval.cli.serve_cmd;"
        "print(sorted(m for m in ('torch', 'transformers', 'vllm', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
