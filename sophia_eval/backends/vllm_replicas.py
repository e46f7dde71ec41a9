"""Data parallelism for the vLLM backend: independent engine replicas in worker processes.

Each replica is a spawned process that owns one `vllm.LLM` on its own GPU slice and answers
`(conversations, config, seed offsets)` requests over a pipe. Prompts are dealt round-robin and
keep their global index as seed offset, so output does not depend on the number of replicas.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import replace
from typing import Any, Sequence

from sophia_eval.backends.base import BackendError, Completion, Conversation, GenerationConfig


def _replica_main(conn: Any, rank: int, model: str, options: Any, devices: str | None, engine: type) -> None:
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices  # before vLLM/torch initialise CUDA
    try:
        gen = engine(model, replica_options(options))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", f"replica {rank}: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    try:
        while True:
            try:
                msg = conn.recv()
            except EOFError:  # parent went away
                return
            if msg is None:
                return
            conversations, config, offsets = msg
            try:
                conn.send(("ok", gen.generate_local(conversations, config, seed_offsets=offsets)))
            except Exception as exc:  # noqa: BLE001
                conn.send(("error", f"replica {rank}: {type(exc).__name__}: {exc}"))
    finally:
        gen.close()


def replica_options(options: Any) -> Any:
    """The options one replica runs with (a single engine)."""
    return replace(options, data_parallel_size=1)


def replica_devices(rank: int, options: Any) -> str | None:
    """CUDA_VISIBLE_DEVICES for replica `rank`, carved from the devices visible to this process."""
    per = options.tensor_parallel_size * options.pipeline_parallel_size
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        devices = [d for d in visible.split(",") if d.strip()]
    else:
        try:
            import torch

            devices = [str(i) for i in range(torch.cuda.device_count())]
        except ImportError:
            devices = []
    if not devices:
        return None  # CPU: replicas share the host
    need = per * options.data_parallel_size
    if len(devices) < need:
        raise BackendError(
            f"data_parallel_size={options.data_parallel_size} x tensor x pipeline = {need} GPUs needed, "
            f"{len(devices)} visible; lower data_parallel_size or tensor_parallel_size"
        )
    return ",".join(devices[rank * per : (rank + 1) * per])


class Replica:
    """Handle on one replica process."""

    def __init__(self, rank: int, model: str, options: Any, engine: type) -> None:
        ctx = mp.get_context("spawn")  # vLLM and CUDA do not survive fork
        self.rank = rank
        self.conn, child = ctx.Pipe()
        # Not a daemon: vLLM starts its own engine processes, which daemons may not do.
        self.proc = ctx.Process(
            target=_replica_main, args=(child, rank, model, options, replica_devices(rank, options), engine),
            name=f"sophia-vllm-replica-{rank}",
        )
        self.proc.start()

    def wait_ready(self) -> None:
        status, detail = self._recv()
        if status != "ready":
            raise BackendError(detail)

    def _recv(self) -> tuple[str, Any]:
        try:
            return self.conn.recv()
        except EOFError as exc:
            raise BackendError(f"vLLM replica {self.rank} exited (exit code {self.proc.exitcode})") from exc

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=30)
        if self.proc.is_alive():
            self.proc.terminate()


def start_replicas(model: str, options: Any, engine: type) -> list[Replica]:
    """`engine(model, options)` (the single-engine generator class) is built in each replica process."""
    replicas = [Replica(r, model, options, engine) for r in range(options.data_parallel_size)]
    try:
        for r in replicas:
            r.wait_ready()
    except BackendError:
        for r in replicas:
            r.close()
        raise
    return replicas


def generate_on_replicas(
    replicas: Sequence[Replica], conversations: Sequence[Conversation], config: GenerationConfig
) -> list[list[Completion]]:
    k = len(replicas)
    shards = [list(range(r, len(conversations), k)) for r in range(k)]
    for rep, idx in zip(replicas, shards):
        rep.conn.send(([conversations[i] for i in idx], config, idx))
    results: list[list[Completion]] = [[] for _ in conversations]
    for rep, idx in zip(replicas, shards):
        status, payload = rep._recv()
        if status != "ok":
            raise BackendError(payload)
        for i, comps in zip(idx, payload):
            results[i] = comps
    return results
