"""COCO-C builder, 1 -> 2 workers for every benchmark corruption, against what the machine allows.

For each of the 15 benchmark corruptions (one severity) on a synthetic set of COCO-size JPEGs (made as
``coco_scale.py`` makes it), in this order:

- bare loop, one process held to one core: decode, corrupt and encode as the builder does (img/s);
- two bare loops at once, each held to its own core, each on half the images: the machine's own
  1 -> 2 ceiling for this work, with no builder involved;
- the builder with 1 worker and with 2 workers (``build_coco_c``), wall time and the cores they kept
  busy: CPU seconds of every process and thread (main, workers, writer threads) over wall seconds.

A 1-worker build that keeps more than one core busy leaves less than 2x to gain; a 2-worker gain below
the two bare loops' is the builder's own cost. Prints the machine and its load before and after.

  python benchmarks/builder_scaling.py                     # 120 images, severity 3, ~10 min idle
  python benchmarks/builder_scaling.py --images 20 --corruptions brightness,glass_blur
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from coco_scale import bare_loop, make_set

from fan_det.corruptions import build_coco_c, corrupt, load_images, read_rgb
from fan_det.protocol import BENCHMARK
from fan_det.runtime.threads import apply_threads, available_cores


def _pinned_bare_loop(task: tuple[int, list[str], str, int]) -> float:
    """In a pool worker: the bare loop held to one core (seconds)."""
    core, sources, corruption, severity = task
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        return bare_loop(sources, corruption, severity)
    finally:
        os.sched_setaffinity(0, cores)


def _warm(_: int) -> None:
    """Pool initializer: one library thread, numba's glass_blur compiled before any timing."""
    apply_threads(1)
    import numpy as np

    corrupt(np.zeros((32, 32, 3), np.uint8), "glass_blur", 1)


def _cpu_seconds() -> float:
    """CPU seconds of this process (every thread) and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _build(entries: list, root: Path, corruption: str, severity: int, workers: int) -> tuple[float, float]:
    """(wall seconds, cores kept busy) of one build into a fresh folder, removed afterwards."""
    out = Path(tempfile.mkdtemp(dir=root))
    cpu, wall = _cpu_seconds(), time.perf_counter()
    build_coco_c(entries, out, (corruption,), (severity,), workers=workers, progress=False)
    wall = time.perf_counter() - wall
    cpu = _cpu_seconds() - cpu
    shutil.rmtree(out)
    return wall, cpu / wall


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--images", type=int, default=120, help="synthetic COCO-size images")
    parser.add_argument("--corruptions", default=",".join(BENCHMARK), help="comma-separated names")
    parser.add_argument("--severity", type=int, default=3, help="the one severity built")
    parser.add_argument("--keep", default=None, help="folder for the synthetic set (kept between runs)")
    args = parser.parse_args()
    corruptions = args.corruptions.split(",")
    unknown = sorted(set(corruptions) - set(BENCHMARK))
    if unknown:
        parser.error(f"not benchmark corruptions: {', '.join(unknown)}")
    if args.images < 2:
        parser.error("--images must be at least 2")
    if available_cores() < 2:
        parser.error("needs 2 cores this process may use")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        json_path = make_set(root / f"synthetic_{args.images}", args.images)
        entries = load_images(str(json_path), json_path.parent / "images", "png")
        sources = [e.source for e in entries]
        corrupt(read_rgb(sources[0]), "glass_blur", 1)  # numba's compile, outside every timing
        half = len(sources) // 2
        print(f"machine: {platform.machine()} {platform.processor() or ''}, {available_cores()} cores "
              f"available; Python {platform.python_version()}; load average {_load()} at start")
        print(f"{args.images} synthetic COCO-size JPEGs, severity {args.severity}; img/s and cores kept busy")
        print(f"{'corruption':<18} {'bare 1 core':>11} {'2 bare loops':>12} {'1 worker':>8} {'cores':>5} "
              f"{'2 workers':>9} {'cores':>5} {'2w / 1w':>7} {'2w / 2 bare':>11}")
        with multiprocessing.get_context("spawn").Pool(2, initializer=_warm, initargs=(0,)) as pool:
            for corruption in corruptions:
                one = pool.apply(_pinned_bare_loop, ((0, sources, corruption, args.severity),))
                start = time.perf_counter()
                pool.map(_pinned_bare_loop, [(0, sources[:half], corruption, args.severity),
                                             (1, sources[half:], corruption, args.severity)], chunksize=1)
                two = time.perf_counter() - start
                wall1, cores1 = _build(entries, root, corruption, args.severity, 1)
                wall2, cores2 = _build(entries, root, corruption, args.severity, 2)
                n = len(sources)
                print(f"{corruption:<18} {n / one:>11.2f} {n / two:>7.2f} x{one / two:.2f} {n / wall1:>8.2f} "
                      f"{cores1:>5.2f} {n / wall2:>9.2f} {cores2:>5.2f} {'x':>2}{wall1 / wall2:.2f} "
                      f"{two / wall2:>11.2f}", flush=True)
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
