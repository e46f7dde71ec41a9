"""Which optional extra provides each heavy dependency, so a slim install fails with the fix.

`pip install sophia-eval` gives the verifier, the reward and the CLI shell; the harness, backends,
leaderboards and training need an extra. The package imports those dependencies where they are
used; the two entry points (`sophia_eval.<name>` and the `sophia-eval` CLI) turn a missing one into
an error naming the extra to install.
"""

from __future__ import annotations

EXTRA_OF: dict[str, str] = {
    "torch": "eval", "transformers": "eval", "accelerate": "eval", "datasets": "eval", "pandas": "eval",
    "pyarrow": "eval", "numpy": "eval", "PIL": "eval", "yaml": "eval", "httpx": "eval",
    "gguf": "demo", "vllm": "vllm", "deepspeed": "deepspeed", "lmms_eval": "lmms",
}


class MissingExtraError(ModuleNotFoundError):
    """A heavy optional dependency is not installed; the message names the extra that provides it."""


def missing_extra(exc: ModuleNotFoundError, what: str) -> ModuleNotFoundError:
    """`exc` with the extra to install when the missing module belongs to one, else `exc` itself."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return exc
    err = MissingExtraError(f"{what} needs {top!r}, which the slim install leaves out; install the extra: "
                            f"pip install 'sophia-eval[{extra}]'", name=exc.name)
    err.__cause__ = exc
    return err
