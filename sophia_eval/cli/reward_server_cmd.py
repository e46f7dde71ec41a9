"""`sophia-eval reward-server`: the verifier as an HTTP reward service for RL trainers."""

from __future__ import annotations

import os
import signal
from typing import Optional

import typer

API_KEY_ENV = "SOPHIA_EVAL_REWARD_API_KEY"


def register(app: typer.Typer) -> None:
    @app.command("reward-server")
    def reward_server(
        host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
        port: int = typer.Option(8008, help="Port to listen on (0 picks a free one)."),
        workers: Optional[int] = typer.Option(None, help="Verifier worker processes (default: CPU count)."),
        timeout: float = typer.Option(2.0, help="Budget in seconds per item."),
        policy: Optional[str] = typer.Option(None, help="Extraction policy (default: the verifier's)."),
        max_body_mb: float = typer.Option(32.0, help="Largest request body in MiB (413 above)."),
        max_batch: int = typer.Option(16384, help="Most items per request (413 above)."),
        max_concurrency: int = typer.Option(8, help="Requests scored at once (429 above)."),
        max_connections: int = typer.Option(64, help="Open connections (503 above)."),
        api_key: Optional[str] = typer.Option(
            None, help=f"Require 'Authorization: Bearer KEY' (or set ${API_KEY_ENV}).", show_default=False),
        unverifiable_score: float = typer.Option(0.0, help="Score of an unverifiable item on /get_reward."),
    ) -> None:
        """Serve rewards at http://HOST:PORT: POST /reward, POST /get_reward (OpenRLHF), GET /metrics."""
        from rich.console import Console

        from sophia_eval.reward_server import RewardServerConfig, make_reward_server

        console = Console(stderr=True)
        key = api_key or os.environ.get(API_KEY_ENV) or None
        try:
            config = RewardServerConfig(
                host=host, port=port, workers=workers, timeout=timeout, policy=policy,
                max_body_bytes=int(max_body_mb * 1024 * 1024), max_batch=max_batch,
                max_concurrency=max_concurrency, max_connections=max_connections, api_key=key,
                unverifiable_score=unverifiable_score)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        if key is None and host not in ("127.0.0.1", "localhost", "::1"):
            console.print(f"[yellow]warning:[/yellow] serving on {host} without an API key; "
                          f"anyone who can reach it can use it (pass --api-key or set ${API_KEY_ENV})")
        try:
            server = make_reward_server(config)
        except OSError as exc:
            console.print(f"[red]error:[/red] cannot listen on {host}:{port}: {exc}")
            raise typer.Exit(2) from exc
        except RuntimeError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt  # SIGTERM: stop like Ctrl-C, so the workers are closed

        signal.signal(signal.SIGTERM, stop)
        bound_host, bound_port = server.server_address[:2]
        console.print(f"Reward server at http://{bound_host}:{bound_port} with {server.pool.max_workers} "
                      "verifier workers (Ctrl+C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
