"""`sophia-eval serve`: expose any backend as a small OpenAI-compatible HTTP server."""

from __future__ import annotations

from typing import Optional

import typer

from sophia_eval.backends.serve import API_KEY_ENV, ServeLimits

_LIMITS = ServeLimits()


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        model: Optional[str] = typer.Argument(
            None, help="Model directory, .gguf file or hub id; omit for the embedded demo model."
        ),
        backend: str = typer.Option("transformers", help="Backend that generates: transformers or vllm."),
        host: str = typer.Option("127.0.0.1", help="Interface to bind."),
        port: int = typer.Option(8000, help="Port to listen on (0 picks a free one)."),
        served_model_name: Optional[str] = typer.Option(
            None, help="Name reported by /v1/models (default: the model directory's name or the hub id)."),
        max_batch: int = typer.Option(8, help="Concurrent requests merged into one generate call."),
        opt: list[str] = typer.Option([], "--opt", help="Backend option KEY=VALUE (repeatable), e.g. dtype=bfloat16."),
        api_key: Optional[str] = typer.Option(
            None, envvar=API_KEY_ENV, help=f"Require 'Authorization: Bearer KEY' on every request (or set {API_KEY_ENV})."),
        max_body_bytes: int = typer.Option(_LIMITS.max_body_bytes, help="Largest request body (413 above)."),
        max_prompt_tokens: int = typer.Option(_LIMITS.max_prompt_tokens, help="Longest prompt in tokens (400 above)."),
        max_new_tokens: int = typer.Option(_LIMITS.max_new_tokens, help="Largest max_tokens a request may ask (400 above)."),
        max_n: int = typer.Option(_LIMITS.max_n, help="Most samples per request (400 above)."),
        max_image_pixels: int = typer.Option(_LIMITS.max_image_pixels, help="Total image pixels per request, checked before decoding (413 above)."),
        max_connections: int = typer.Option(_LIMITS.max_connections, help="Open connections (429 above)."),
        read_timeout: float = typer.Option(_LIMITS.read_timeout_s, help="Seconds to receive a whole request (headers and body)."),
        request_timeout: float = typer.Option(_LIMITS.request_timeout_s, help="Deadline of a request in seconds (504 and generation cancelled)."),
    ) -> None:
        """Serve MODEL at http://HOST:PORT/v1 (chat completions + models), for any OpenAI client."""
        import logging

        from rich.console import Console
        from rich.markup import escape

        from sophia_eval.backends import make_generator
        from sophia_eval.backends.base import BackendError
        from sophia_eval.backends.demo import DEMO_LABEL, demo_model_path
        from sophia_eval.backends.serve import default_model_id, make_server
        from sophia_eval.cli.run_cmd import parse_options

        console = Console(stderr=True)
        try:
            options = parse_options(opt)
            limits = ServeLimits(max_body_bytes, max_prompt_tokens, max_new_tokens, max_n, max_image_pixels,
                                 max_connections, read_timeout, request_timeout)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        try:
            if model is None:
                model = str(demo_model_path())
                console.print(f"[bold]No model given: serving the demo model[/bold] {escape(DEMO_LABEL)}")
            with console.status(f"Loading {escape(model)} with the {escape(backend)} backend..."):
                generator = make_generator(backend, model, **options)
        except BackendError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from exc
        name = served_model_name or default_model_id(model)
        try:
            server = make_server(generator, model_name=name, host=host, port=port, max_batch=max_batch,
                                 limits=limits, api_key=api_key or None)
        except OSError as exc:
            console.print(f"[red]error:[/red] cannot listen on {escape(host)}:{port}: {escape(str(exc))}")
            raise typer.Exit(2) from exc
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        serve_log = logging.getLogger("sophia_eval.serve")
        serve_log.addHandler(handler)
        serve_log.setLevel(logging.INFO)
        bound_host, bound_port = server.server_address[:2]
        auth = "bearer token required" if api_key else "no API key (set --api-key to require one)"
        console.print(f"Serving [bold]{escape(name)}[/bold] at http://{bound_host}:{bound_port}/v1; {auth} (Ctrl+C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            server.worker.close()  # type: ignore[attr-defined]
