"""Semantic-segmentation inference throughput: FAN-S-Hybrid + SegFormer head
(configs/Cityscapes/segformer_fan_small_hybrid.yaml) with sliding windows, as the authors test Cityscapes,
and whole-image, vs detectron2's R50 semantic FPN (whole image), measured in this process; ratios are
FAN / R50 images/s (< 1: slower). Random weights and pixels: the speed does not depend on them.

Example (CPU, small images and windows, a minute or two on 2 cores):
    python benchmarks/seg_forward.py --device cpu --size 256x512 --crop 256 --stride 192 --iters 1
On a GPU, a Cityscapes image with the configs' 1024-px windows at stride 768:
    python benchmarks/seg_forward.py --device cuda --size 1024x2048 --iters 10
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from train_step import build  # the models exactly as the training-step benchmark builds them

from fan_det.cli import HelpFormatter, fail


def images_per_second(model, image: torch.Tensor, iters: int, device: str) -> float:
    inputs = [{"image": image, "height": image.shape[1], "width": image.shape[2]}]
    with torch.no_grad():
        model(inputs)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(iters):
            model(inputs)
        if device == "cuda":
            torch.cuda.synchronize()
    return iters / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        choices=("cpu", "cuda"), help="where inference runs (default: cuda when visible)")
    parser.add_argument("--size", default="1024x2048", help="image HxW in pixels")
    parser.add_argument("--crop", type=int, default=1024, help="sliding-window side in pixels")
    parser.add_argument("--stride", type=int, default=768, help="sliding-window stride in pixels")
    parser.add_argument("--iters", type=int, default=3, help="timed images after one warm-up")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda but no GPU is visible: run on a machine with one or pass --device cpu")
    try:
        height, width = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        fail(f"--size {args.size}: give HxW, e.g. 1024x2048")
    if not 0 < args.stride <= args.crop:
        fail(f"--stride {args.stride} must be positive and at most --crop {args.crop}")
    torch.set_num_threads(args.threads)
    machine = (torch.cuda.get_device_name() if args.device == "cuda"
               else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                    f"{args.threads} threads")
    print(f"machine: {machine}; torch {torch.__version__}; one {height}x{width} image, float32")
    image = torch.randint(0, 256, (3, height, width), generator=torch.Generator().manual_seed(0)).float()
    r50 = build("r50", args.device, False, "segmentation")[0].eval()
    fan = build("fan", args.device, False, "segmentation")[0].eval()
    rows = {"R50 semantic FPN (detectron2), whole": images_per_second(r50, image, args.iters, args.device)}
    fan.mode = "whole"
    rows["FAN-S-Hybrid SegFormer, whole"] = images_per_second(fan, image, args.iters, args.device)
    fan.mode, fan.crop_size, fan.stride = "slide", (args.crop, args.crop), (args.stride, args.stride)
    rows[f"FAN-S-Hybrid SegFormer, slide {args.crop}/{args.stride}"] = images_per_second(
        fan, image, args.iters, args.device)
    print(f"{'model':<44}{'images/s':>10}{'x R50':>8}")
    base = next(iter(rows.values()))
    for name, speed in rows.items():
        print(f"{name:<44}{speed:>10.3f}{speed / base:>8.2f}")


if __name__ == "__main__":
    main()
