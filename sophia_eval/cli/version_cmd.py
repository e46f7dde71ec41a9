"""`sophia-eval version`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version() -> None:
        """Print the package version."""
        from sophia_eval._version import package_version

        typer.echo(package_version())
