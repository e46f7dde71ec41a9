"""`sophia-eval` command line: argument parsing only; each command lives in its own module.

Command modules import their heavy dependencies (torch, transformers, ...) inside the command
function, so `sophia-eval verify` or `sophia-eval list` start fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from sophia_eval._extras import missing_extra

app = typer.Typer(
    name="sophia-eval",
    help="Evaluate vision-language math reasoning models; train them with SOPHIA.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Evaluate vision-language math reasoning models; train them with SOPHIA."""


# Each module defines `register(app)`. Listed explicitly: no import-everything discovery.
_COMMAND_MODULES: tuple[str, ...] = (
    "sophia_eval.cli.version_cmd",
    "sophia_eval.cli.train_cmd",
    "sophia_eval.cli.verify_cmd",
    "sophia_eval.cli.serve_cmd",
    "sophia_eval.cli.reward_server_cmd",
    "sophia_eval.cli.run_cmd",
    "sophia_eval.cli.score_cmd",
    "sophia_eval.cli.leaderboard_cmd",
    "sophia_eval.cli.bench_cmd",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    # Piped or logged output has no terminal width; rich would squeeze tables to 80 columns and
    # truncate numbers ("7…"). A log file can be wide.
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        os.environ["COLUMNS"] = "200"
    try:
        app()
    except ModuleNotFoundError as exc:  # a slim install running a command that needs an extra
        err = missing_extra(exc, f"`sophia-eval {' '.join(sys.argv[1:2])}`")
        if err is exc:
            raise
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
