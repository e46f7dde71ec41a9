"""`sophia-eval verify`: check one prediction against one gold answer and print the verdict.

Exit code: 0 correct, 1 incorrect or no answer, 2 bad gold, timeout or error (usable in scripts).
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from sophia_eval.verify.types import ANSWER_TYPES
from sophia_eval.verify.vocab import EXTRACTION_POLICIES, SCORED_STATUSES


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify_cmd(
        gold: str = typer.Option(..., "--gold", "-g", help="Gold answer (LaTeX, number, letter, text)."),
        pred: str = typer.Option(..., "--pred", "-p", help="Model response, or '-' to read it from stdin."),
        options: Optional[List[str]] = typer.Option(
            None, "--options", "-o",
            help="Choice texts in letter order: repeat the flag, or one value split on '|'."),
        answer_type: Optional[str] = typer.Option(None, "--answer-type", "-t", help=f"Answer kind: {', '.join(ANSWER_TYPES)}."),
        tolerance: Optional[str] = typer.Option(
            None, "--tolerance", help="Absolute tolerance; comma-separated for one per sub-answer."),
        rel_tolerance: Optional[float] = typer.Option(None, "--rel-tolerance", help="Relative tolerance."),
        precision: Optional[int] = typer.Option(None, "--precision", help="Decimal places the gold is given to."),
        unit: Optional[str] = typer.Option(None, "--unit", help="Unit the answer is expressed in."),
        multiple: bool = typer.Option(False, "--multiple", help="Gold holds several answers (unordered)."),
        policy: Optional[str] = typer.Option(None, "--policy", help=f"Extraction policy: {', '.join(EXTRACTION_POLICIES)}."),
        timeout: float = typer.Option(2.0, "--timeout", help="Budget in seconds for the check."),
        as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
    ) -> None:
        """Check one model response against a gold answer and print the verdict."""
        from sophia_eval.verify import verify
        from sophia_eval.verify.extract import get_policy

        if pred == "-":
            pred = sys.stdin.read()
        opts: list[str] | None = None
        if options:
            opts = options[0].split("|") if len(options) == 1 and "|" in options[0] else list(options)
        if answer_type is not None and answer_type not in ANSWER_TYPES:
            raise typer.BadParameter(f"{answer_type!r} is not one of {', '.join(ANSWER_TYPES)}", param_hint="--answer-type")
        if policy is not None:
            try:
                get_policy(policy)
            except KeyError as exc:
                raise typer.BadParameter(str(exc.args[0]), param_hint="--policy") from None
        try:
            v = verify(gold=gold, pred=pred, options=opts, answer_type=answer_type, tolerance=tolerance,
                       rel_tolerance=rel_tolerance, precision=precision, unit=unit, multiple=multiple,
                       policy=policy, timeout=timeout)
        except (TypeError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from None
        if as_json:
            typer.echo(json.dumps(v.to_dict(), ensure_ascii=False))
        else:
            _print(v)
        raise typer.Exit(0 if v.status == "correct" else 1 if v.status in SCORED_STATUSES else 2)


def _print(v) -> None:  # noqa: ANN001 - a Verdict; typed loosely to keep the import lazy
    from rich.console import Console
    from rich.table import Table

    colour = {"correct": "green", "incorrect": "red", "no_answer": "yellow"}.get(v.status, "magenta")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("status", f"[{colour}]{v.status}[/{colour}]")
    for name in ("extracted", "gold_parsed", "pred_parsed", "method", "reason"):
        value = getattr(v, name)
        if value not in (None, ""):
            table.add_row(name, str(value))
    table.add_row("elapsed", f"{v.elapsed_s * 1000:.1f} ms")
    table.add_row("verifier", v.verifier_version)
    Console(highlight=False).print(table)
