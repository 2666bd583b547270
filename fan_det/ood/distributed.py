"""Data-parallel evaluation: exact sharding, gathering, and a process launcher.

Each rank takes ``indices[rank::world]``: no padding, so every image is evaluated exactly once (a
``DistributedSampler`` would repeat images to even out the shards). Per-image outcomes carry their
sample index; ``merge_shards`` checks that the union is exactly the dataset before anything is counted.
Works under ``torchrun`` (reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``) or ``launch(fn, n)``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def shard_indices(n: int, rank: int, world: int) -> list[int]:
    """This rank's sample indices: a strided, non-padded split of ``range(n)``."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"bad rank {rank} of world {world}")
    return list(range(rank, n, world))


def merge_shards(parts: Sequence[dict[str, np.ndarray]], n: int,
                 skipped: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """Concatenate per-rank outcome arrays, sorted by ``"index"``, checking exact coverage of ``range(n)``.

    ``skipped`` are the indices set aside as unreadable; together with the outcomes they must cover
    every index once.
    """
    keys = parts[0].keys()
    merged = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    order = np.argsort(merged["index"], kind="stable")
    merged = {k: v[order] for k, v in merged.items()}
    seen = np.concatenate([merged["index"], np.asarray(list(skipped), dtype=np.int64)])
    if seen.size != n or not np.array_equal(np.sort(seen), np.arange(n)):
        counts = np.bincount(seen, minlength=n) if seen.size else np.zeros(n, dtype=int)
        missing, duplicated = int((counts == 0).sum()), int((counts > 1).sum())
        raise RuntimeError("gathered outcomes do not cover the dataset exactly once: "
                           f"{missing} missing, {duplicated} duplicated, of {n}")
    return merged


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank, world size and its device."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> DistContext:
    """Join the process group described by the environment (torchrun, ``launch``), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return DistContext(device=torch.device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return DistContext(rank=rank, world=world, device=dev)


def all_gather(obj, ctx: DistContext) -> list:
    """Every rank's ``obj`` (picklable), in rank order."""
    if ctx.world == 1:
        return [obj]
    out: list = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(local_rank: int, world: int, port: int, fn: Callable, args: tuple) -> None:
    os.environ.update(RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        fn(*args)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def launch(fn: Callable, num_procs: int, args: tuple = ()) -> None:
    """Run ``fn(*args)`` in ``num_procs`` spawned processes on one machine (one per GPU)."""
    if num_procs == 1:
        fn(*args)
        return
    mp.start_processes(_worker, args=(num_procs, _free_port(), fn, args), nprocs=num_procs,
                       start_method="spawn")
