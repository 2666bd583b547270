"""OOD evaluation throughput against the data-loading ceiling, as a ratio measured in one process.

The ceiling is the same decode + resize + crop + normalise loop (same dataset class, transform, batch
size and workers) with no model; the evaluation is ``fan_det.ood.evaluate.evaluate``. A ratio near 1
means evaluation is input-bound. Uses the tiny ImageNet photos, repeated to ``--images``.

    python benchmarks/ood_throughput.py --images 96 --workers 2
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from fan_det.data.ood_sets import build_ood_sets
from fan_det.ood.classifier import load_model
from fan_det.ood.evaluate import evaluate
from fan_det.ood.image_folders import ClassImageFolder, collate_skipping
from fan_det.ood.preprocess import build_transform, resolve_preprocessing


def replicate(src: Path, dst: Path, n: int) -> Path:
    """``n`` images in wnid folders, cycling through the tiny set's photos."""
    files = sorted(src.rglob("*.jpg"))
    for i in range(n):
        f = files[i % len(files)]
        (dst / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst / f.parent.name / f"{i:05d}_{f.name}")
    return dst


def loader_ceiling(ds: ClassImageFolder, batch_size: int, workers: int) -> float:
    t0 = time.perf_counter()
    n = 0
    for batch in DataLoader(ds, batch_size=batch_size, num_workers=workers, collate_fn=collate_skipping):
        n += len(batch.targets)
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="fan_det.zoo.efficientnet_lite0:build")
    p.add_argument("--images", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads on the CPU")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_model(args.model)
    transform = build_transform(resolve_preprocessing(loaded.model, loaded.data_config))
    with tempfile.TemporaryDirectory() as tmp:
        root = replicate(build_ood_sets()["imagenet"], Path(tmp), args.images)
        ds = ClassImageFolder(root, transform)
        ceiling = loader_ceiling(ds, args.batch_size, args.workers)
        t0 = time.perf_counter()
        out = evaluate(loaded.model, ds, batch_size=args.batch_size, workers=args.workers,
                       device=args.device, desc="bench")
        speed = out.num_images / (time.perf_counter() - t0)
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}, "
          f"device {args.device}{f' ({gpu})' if gpu else ''}; model {args.model}; "
          f"{args.images} images, batch {args.batch_size}, workers {args.workers}")
    print(f"data-loading ceiling: {ceiling:8.1f} img/s")
    print(f"evaluation:           {speed:8.1f} img/s")
    print(f"ratio evaluation / ceiling: {speed / ceiling:.3f}")


if __name__ == "__main__":
    main()
