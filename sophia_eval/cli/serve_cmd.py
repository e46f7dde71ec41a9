"""`sophia-eval serve`: expose any backend as a small OpenAI-compatible HTTP server."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        model: Optional[str] = typer.Argument(
            None, help="Model directory, .gguf file or hub id; omit for the embedded demo model."
        ),
        backend: str = typer.Option("transformers", help="Backend that generates: transformers or vllm."),
        host: str = typer.Option("127.0.0.1", help="Interface to bind."),
        port: int = typer.Option(8000, help="Port to listen on (0 picks a free one)."),
        served_model_name: Optional[str] = typer.Option(None, help="Name reported by /v1/models."),
        max_batch: int = typer.Option(8, help="Concurrent requests merged into one generate call."),
        opt: list[str] = typer.Option([], "--opt", help="Backend option KEY=VALUE (repeatable), e.g. dtype=bfloat16."),
    ) -> None:
        """Serve MODEL at http://HOST:PORT/v1 (chat completions + models), for any OpenAI client."""
        from rich.console import Console

        from sophia_eval.backends import make_generator
        from sophia_eval.backends.base import BackendError
        from sophia_eval.backends.demo import DEMO_LABEL, demo_model_path
        from sophia_eval.backends.serve import make_server

        console = Console(stderr=True)
        from sophia_eval.cli.run_cmd import parse_options

        try:
            options = parse_options(opt)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--opt") from None
        try:
            if model is None:
                model = str(demo_model_path())
                console.print(f"[bold]No model given: serving the demo model[/bold] {DEMO_LABEL}")
            with console.status(f"Loading {model} with the {backend} backend..."):
                generator = make_generator(backend, model, **options)
        except BackendError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        name = served_model_name or model
        try:
            server = make_server(generator, model_name=name, host=host, port=port, max_batch=max_batch)
        except OSError as exc:
            console.print(f"[red]error:[/red] cannot listen on {host}:{port}: {exc}")
            raise typer.Exit(2) from exc
        bound_host, bound_port = server.server_address[:2]
        console.print(f"Serving [bold]{name}[/bold] at http://{bound_host}:{bound_port}/v1 (Ctrl+C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            server.worker.close()  # type: ignore[attr-defined]
