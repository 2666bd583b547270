"""FAN forward throughput and peak memory per variant, fused (SDPA) vs explicit attention.

Every figure is measured in this process; the ratio column is explicit time / fused time for the same
variant, size and dtype (> 1 means SDPA is faster). On the CPU, peak memory is the growth of the peak
resident set over one forward pass in a fresh process (so that memory freed by an earlier run cannot
hide it); on a GPU it is `torch.cuda.max_memory_allocated` in this process.

``--dtype`` picks the precisions: float32, and bfloat16 under ``torch.autocast`` on the device (CUDA or
CPU); by default both on a GPU and float32 alone on a CPU, where bfloat16 is often emulated and slow.

Example (the quick default: tiny variants at 224x224 and 384x640, a few minutes on 2 cores):
    python benchmarks/fan_forward.py --threads 1
Full table (every variant at 224x224 and the detection size 800x1216; long on a CPU):
    python benchmarks/fan_forward.py --full
On a GPU, both precisions:
    python benchmarks/fan_forward.py --device cuda --dtype float32 bfloat16
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext

import timm
import torch
from tqdm import tqdm

import fan_det.models  # noqa: F401  registers the FAN variants
from fan_det.cli import HelpFormatter

QUICK_VARIANTS = ("fan_tiny_12_p16_224", "fan_tiny_8_p4_hybrid")
QUICK_DET_SIZE = (384, 640)
FULL_DET_SIZE = (800, 1216)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def precision(device: torch.device, dtype: str):
    """The context a forward pass runs in: autocast to ``dtype`` on ``device``, or nothing for float32."""
    return nullcontext() if dtype == "float32" else torch.autocast(device.type, dtype=DTYPES[dtype])


def _child_peak_mib(variant: str, size: tuple[int, int], batch: int, fused: bool, threads: int,
                    dtype: str) -> float:
    """In a fresh process: growth of the peak resident set (MiB) over one forward pass."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = timm.create_model(variant).eval()
    set_fused(model, fused)
    x = torch.randn(batch, 3, *size)
    with open("/proc/self/statm") as f:
        before = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    with torch.inference_mode(), precision(x.device, dtype):
        model(x)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before) / 2**20


def cpu_peak_mib(variant: str, size: tuple[int, int], batch: int, fused: bool, dtype: str) -> float:
    """Run `_child_peak_mib` in a spawned process, so earlier allocations cannot hide the peak."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_child_peak_mib, variant, size, batch, fused, torch.get_num_threads(),
                           dtype).result()


def set_fused(model: torch.nn.Module, fused: bool) -> None:
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = fused


def measure(model, x, dtype: str, iters: int, warmup: int) -> tuple[float, float | None]:
    """Images per second of `iters` forward passes after `warmup` ones, and the GPU's peak MiB."""
    cuda = x.device.type == "cuda"
    with torch.inference_mode(), precision(x.device, dtype):
        for _ in range(warmup):
            model(x)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(iters):
            model(x)
        if cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    return iters * x.shape[0] / elapsed, torch.cuda.max_memory_allocated() / 2**20 if cuda else None


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return (f"CPU {cpu}, {os.cpu_count()} cores visible, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="tiny variants, small sizes (the default)")
    mode.add_argument("--full", action="store_true", help="every variant, 224x224 and 800x1216")
    parser.add_argument("--variants", nargs="+", help="timm names (default: by --quick/--full)")
    parser.add_argument("--sizes", help="comma-separated HxW inputs (default: 224x224 and the detection "
                        "size of --quick/--full)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (default: cuda when a GPU is visible)")
    parser.add_argument("--dtype", nargs="+", choices=tuple(DTYPES),
                        help="precisions (default: float32 and bfloat16 on cuda, float32 on cpu)")
    parser.add_argument("--batch", type=int, default=1, help="images per forward pass")
    parser.add_argument("--iters", type=int, default=3, help="timed forward passes")
    parser.add_argument("--warmup", type=int, default=1, help="untimed forward passes first")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--peak-memory", action=argparse.BooleanOptionalAction, default=True,
                        help="measure peak memory (on a CPU: one fresh process per variant, size, dtype "
                             "and attention)")
    args = parser.parse_args()

    variants = args.variants or (timm.list_models("fan_*") if args.full else QUICK_VARIANTS)
    unknown = [v for v in variants if v not in timm.list_models("fan_*")]
    if unknown:
        parser.error(f"not FAN variants: {unknown}; choose from {timm.list_models('fan_*')}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but no GPU is visible")
    dtypes = args.dtype or (("float32", "bfloat16") if device.type == "cuda" else ("float32",))
    try:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")] if args.sizes else \
            [(224, 224), FULL_DET_SIZE if args.full else QUICK_DET_SIZE]
    except ValueError:
        parser.error(f"--sizes {args.sizes}: give comma-separated HxW, e.g. 224x224,384x640")
    if any(len(s) != 2 for s in sizes):
        parser.error(f"--sizes {args.sizes}: give comma-separated HxW, e.g. 224x224,384x640")

    print(f"machine: {machine(device)}")
    print(f"batch {args.batch}, {args.iters} timed forward passes after {args.warmup} warm-up")
    header = f"{'variant':30s} {'input':>9s} {'dtype':8s} {'fused img/s':>11s} {'explicit img/s':>14s} " \
             f"{'explicit/fused time':>19s} {'fused peak MiB':>14s} {'explicit peak MiB':>17s}"
    rows = []
    jobs = [(v, s, d) for v in variants for s in sizes for d in dtypes]
    for variant, size, dtype in tqdm(jobs, desc="benchmark", leave=False):
        torch.manual_seed(0)
        model = timm.create_model(variant).eval().to(device)
        x = torch.randn(args.batch, 3, *size, device=device)
        results = {}
        for fused in (True, False):
            set_fused(model, fused)
            ips, peak = measure(model, x, dtype, args.iters, args.warmup)
            if peak is None and args.peak_memory:
                peak = cpu_peak_mib(variant, size, args.batch, fused, dtype)
            results[fused] = (ips, peak)
        (f_ips, f_mem), (e_ips, e_mem) = results[True], results[False]
        memory = f"{f_mem:14.0f} {e_mem:17.0f}" if args.peak_memory else f"{'-':>14s} {'-':>17s}"
        rows.append(f"{variant:30s} {size[0]:4d}x{size[1]:<4d} {dtype:8s} {f_ips:11.2f} {e_ips:14.2f} "
                    f"{f_ips / e_ips:19.2f} {memory}")
        del model
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
