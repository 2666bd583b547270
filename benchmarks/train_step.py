"""Training-step throughput and peak memory: FAN RetinaNet (configs/fan_retinanet.yaml, FAN-S-Hybrid) vs
detectron2's R50-FPN RetinaNet, measured in this process; the ratio is FAN / R50 (images/s < 1: slower).
``--task segmentation``: FAN-S-Hybrid with the SegFormer head
(configs/Cityscapes/segformer_fan_small_hybrid.yaml) vs detectron2's R50 semantic FPN
(Misc/semantic_R_50_FPN_1x.yaml), both with Cityscapes' 19 classes.

A step is forward + backward + optimizer step on a synthetic batch (random pixels, two boxes per image;
for segmentation a random label map with an ignored band).
``--amp`` runs it as detectron2's AMPTrainer does: on a GPU, forward under float16 autocast and the loss
scaled by a GradScaler (as the COCO config trains; the default on a GPU); on a CPU, forward under bfloat16
autocast, which needs no loss scaling. With ``--no-amp`` (the default on a CPU) everything is float32.
On a GPU peak memory is `torch.cuda.max_memory_allocated`; on the CPU it is the growth of the peak
resident set over a step in a fresh process (so that memory freed by an earlier model cannot hide it).

Example (CPU, a minute or two on 2 cores):
    python benchmarks/train_step.py --device cpu --size 320 --batch 2 --steps 2
On a GPU (AMP on):
    python benchmarks/train_step.py --device cuda --size 800 --batch 4 --steps 10
    python benchmarks/train_step.py --device cuda --task segmentation --size 1024 --batch 2 --steps 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import torch
from detectron2 import model_zoo
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage
from tqdm import tqdm

from fan_det.cli import HelpFormatter, fail
from fan_det.detection import build_fan_optimizer
from fan_det.paths import REPO_ROOT
from fan_det.train import load_config

# task -> (FAN config, detectron2 model-zoo baseline, printed names of FAN and the baseline)
TASKS = {
    "detection": (REPO_ROOT / "configs" / "fan_retinanet.yaml", "COCO-Detection/retinanet_R_50_FPN_1x.yaml",
                  "FAN-S-Hybrid RetinaNet", "R50-FPN RetinaNet (detectron2)"),
    "segmentation": (REPO_ROOT / "configs" / "Cityscapes" / "segformer_fan_small_hybrid.yaml",
                     "Misc/semantic_R_50_FPN_1x.yaml", "FAN-S-Hybrid SegFormer",
                     "R50 semantic FPN (detectron2)"),
}
CITYSCAPES_CLASSES = 19


def build(which: str, device: str, amp: bool, task: str = "detection"):
    """(model in train mode, optimizer) for "fan" or "r50", config as a user would run it."""
    torch.manual_seed(0)
    fan_config, r50_config, _, _ = TASKS[task]
    if which == "fan":
        cfg = load_config(str(fan_config), ["MODEL.DEVICE", device, "SOLVER.AMP.ENABLED", str(amp)])
        model = build_model(cfg).train()
        return model, build_fan_optimizer(cfg, model)
    cfg = get_cfg()
    cfg.merge_from_file(model_zoo.get_config_file(r50_config))
    cfg.MODEL.DEVICE = device
    cfg.SOLVER.AMP.ENABLED = amp
    if task == "segmentation":
        cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = CITYSCAPES_CLASSES
    model = build_model(cfg).train()
    return model, build_optimizer(cfg, model)


def batch(size: int, n: int, task: str = "detection") -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        image = torch.randint(0, 256, (3, size, size), generator=gen, dtype=torch.uint8)
        item = {"image": image, "height": size, "width": size}
        if task == "segmentation":
            label = torch.randint(0, CITYSCAPES_CLASSES, (size, size), generator=gen)
            label[: size // 10] = 255
            item["sem_seg"] = label
        else:
            inst = Instances((size, size))
            inst.gt_boxes = Boxes(torch.tensor([[0.1, 0.1, 0.5, 0.6], [0.4, 0.3, 0.9, 0.9]]) * size)
            inst.gt_classes = torch.tensor([1, 7])
            item["instances"] = inst
        out.append(item)
    return out


class Step:
    """One training step as detectron2's SimpleTrainer (float32) or AMPTrainer (``amp``) runs it."""

    def __init__(self, model, optimizer, device: str, amp: bool):
        self.model, self.optimizer, self.device, self.amp = model, optimizer, device, amp
        self.dtype = torch.float16 if device == "cuda" else torch.bfloat16
        # float16 gradients underflow without loss scaling; bfloat16 has float32's range
        self.scaler = torch.amp.GradScaler(device, enabled=amp and device == "cuda")

    def __call__(self, data: list[dict]) -> None:
        with torch.autocast(self.device, dtype=self.dtype, enabled=self.amp):
            loss = sum(self.model(data).values())
        self.optimizer.zero_grad()
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()


def images_per_second(which: str, device: str, amp: bool, size: int, n: int,
                      steps: int, task: str = "detection") -> tuple[float, float | None]:
    step = Step(*build(which, device, amp, task), device, amp)
    data = batch(size, n, task)
    cuda = device == "cuda"
    with EventStorage(0):
        step(data)  # warm-up
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(steps):
            step(data)
        if cuda:
            torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return steps * n / elapsed, torch.cuda.max_memory_allocated() / 2**20 if cuda else None


def _child_peak_mib(which: str, amp: bool, size: int, n: int, threads: int, task: str) -> float:
    torch.set_num_threads(threads)
    step = Step(*build(which, "cpu", amp, task), "cpu", amp)
    data = batch(size, n, task)
    with open("/proc/self/statm") as f:
        before = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    with EventStorage(0):
        step(data)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before) / 2**20


def cpu_peak_mib(which: str, amp: bool, size: int, n: int, task: str = "detection") -> float:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_child_peak_mib, which, amp, size, n, torch.get_num_threads(), task).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        choices=("cpu", "cuda"),
                        help="where the steps run (default: cuda when a GPU is visible)")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction,
                        help="mixed precision: float16 + GradScaler on cuda, bfloat16 on cpu (default: on "
                             "with cuda, as the COCO config trains; off on cpu)")
    parser.add_argument("--task", choices=sorted(TASKS), default="detection",
                        help="detection (RetinaNets) or segmentation (SegFormer vs semantic FPN)")
    parser.add_argument("--size", type=int, default=320, help="square image side in pixels")
    parser.add_argument("--batch", type=int, default=2, help="images per step")
    parser.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up step")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads")
    parser.add_argument("--peak-memory", action=argparse.BooleanOptionalAction, default=True,
                        help="measure peak memory (on a CPU: one fresh process per model)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda but no GPU is visible: run on a machine with one or pass --device cpu")
    torch.set_num_threads(args.threads)
    device = args.device
    if args.amp is None:
        args.amp = device == "cuda"
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} threads"
    machine = torch.cuda.get_device_name() if device == "cuda" else cpu
    precision = ("float16 autocast + GradScaler" if device == "cuda" else "bfloat16 autocast") \
        if args.amp else "float32"
    print(f"machine: {machine}; torch {torch.__version__}; {args.batch} images of {args.size}x{args.size}, "
          f"AMP {'on' if args.amp else 'off'} ({precision})")
    results = {}
    for which in tqdm(("r50", "fan"), desc="models"):
        ips, peak = images_per_second(which, device, args.amp, args.size, args.batch, args.steps, args.task)
        if peak is None and args.peak_memory:
            peak = cpu_peak_mib(which, args.amp, args.size, args.batch, args.task)
        results[which] = (ips, peak)
    print(f"{'model':<32}{'images/s':>10}{'peak MiB':>10}")
    _, _, fan_name, r50_name = TASKS[args.task]
    names = {"r50": r50_name, "fan": fan_name}
    for which, (ips, peak) in results.items():
        print(f"{names[which]:<32}{ips:>10.2f}{'-' if peak is None else f'{peak:.0f}':>10}")
    (f_ips, f_mem), (r_ips, r_mem) = results["fan"], results["r50"]
    memory = f", peak memory {f_mem / r_mem:.2f}x" if f_mem is not None else ""
    print(f"ratio FAN / R50: images/s {f_ips / r_ips:.2f}x{memory}")


if __name__ == "__main__":
    main()
