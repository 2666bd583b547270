"""Data-parallel evaluation on detectron2's launcher and ``comm``, plus torchrun, plus an exact merge.

``detectron2.engine.launch`` spawns the processes (``--num-gpus``/``--num-machines``/...); under
``torchrun`` the process group comes from the environment, which detectron2's ``comm`` does not join
by itself, so ``join_torchrun`` does what ``launch`` does for its own workers. Each rank evaluates
``detectron2.data.samplers.InferenceSampler``'s contiguous, unpadded shard; per-image outcomes carry
their sample index and ``merge_shards`` checks that the union is exactly the dataset before anything
is counted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.distributed as dist
from detectron2.utils import comm


def under_torchrun() -> bool:
    """Started by ``torchrun`` (which sets ``WORLD_SIZE`` and ``LOCAL_WORLD_SIZE``), several processes."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "LOCAL_WORLD_SIZE" in os.environ


def join_torchrun() -> None:
    """Join torchrun's process group and create detectron2's per-machine group, as ``launch`` would."""
    if not under_torchrun() or dist.is_initialized():
        return
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", init_method="env://")
    comm.create_local_process_group(int(os.environ["LOCAL_WORLD_SIZE"]))
    if torch.cuda.is_available():
        torch.cuda.set_device(comm.get_local_rank())
    comm.synchronize()


def rank_device(device: str) -> torch.device:
    """``--device`` for this process: ``cuda`` means this rank's own GPU (its local rank)."""
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        return torch.device("cuda", comm.get_local_rank())
    return dev


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
