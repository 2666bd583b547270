"""COCO-C builder, 1 -> 2 workers for every benchmark corruption, against what the machine allows.

For each of the 15 benchmark corruptions (one severity) on a synthetic set of COCO-size JPEGs (made as
``coco_scale.py`` makes it), in this order:

- bare loop, one process held to one core: decode, corrupt and encode as the builder does (img/s);
- two bare loops at once, each held to its own core, each on half the images: the machine's own
  1 -> 2 ceiling for this work, with no builder involved;
- the builder with 1 worker and with 2 workers (``build_coco_c``), wall time; and a 2-worker build of 2
  images, its fixed cost (spawning, imports, numba compiling in each worker), shown apart and
  subtracted in the last column.

Each also reports its CPU seconds per image (every process and thread: main, workers, writer threads)
and the cores it kept busy (CPU over wall). A 1-worker build that keeps more than one core busy leaves
less than 2x to gain; more CPU per image with 2 workers than with 1 is the cost of the second one;
two bare loops that need more CPU per image than one are the machine's limit (shared caches, memory,
the host's scheduling). CPU per image depends little on other load, wall time a lot: the machine's load
is printed before and after.

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


def _pinned_bare_loop(task: tuple[int, list[str], str, int]) -> tuple[float, float]:
    """In a pool worker: the bare loop held to one core (wall seconds, CPU seconds)."""
    core, sources, corruption, severity = task
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        cpu = time.process_time()
        return bare_loop(sources, corruption, severity), time.process_time() - cpu
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
    """(wall seconds, CPU seconds of every process) of one build into a fresh folder, removed afterwards."""
    out = Path(tempfile.mkdtemp(dir=root))
    cpu, wall = _cpu_seconds(), time.perf_counter()
    build_coco_c(entries, out, (corruption,), (severity,), workers=workers, progress=False)
    wall = time.perf_counter() - wall
    cpu = _cpu_seconds() - cpu
    shutil.rmtree(out)
    return wall, cpu


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
        print(f"machine: {platform.system()} {platform.machine()}, {available_cores()} cores "
              f"available; Python {platform.python_version()}; load average {_load()} at start")
        print(f"{args.images} synthetic COCO-size JPEGs, severity {args.severity}; img/s, CPU ms per image "
              "(every process and thread), cores kept busy (CPU / wall); a 2-worker build's fixed cost "
              "(spawning, imports, numba compiling in each worker) measured as a build of 2 images")
        print(f"{'corruption':<18} {'bare, 1 core':>16} {'2 bare loops, 2 cores':>28} "
              f"{'builder, 1 worker':>23} {'builder, 2 workers':>23} {'2w / 1w':>7} {'fixed s':>7} "
              f"{'2w / 1w less fixed':>18}")
        with multiprocessing.get_context("spawn").Pool(2, initializer=_warm, initargs=(0,)) as pool:
            for corruption in corruptions:
                # first calls (lazy imports, files the corruption reads) in both workers, untimed
                warm = [(core, sources[:1], corruption, args.severity) for core in (0, 1)]
                pool.map(_pinned_bare_loop, warm, chunksize=1)
                one, one_cpu = pool.apply(_pinned_bare_loop, ((0, sources, corruption, args.severity),))
                start = time.perf_counter()
                halves = pool.map(_pinned_bare_loop, [(0, sources[:half], corruption, args.severity),
                                                      (1, sources[half:], corruption, args.severity)],
                                  chunksize=1)
                two, two_cpu = time.perf_counter() - start, sum(cpu for _, cpu in halves)
                wall1, cpu1 = _build(entries, root, corruption, args.severity, 1)
                wall2, cpu2 = _build(entries, root, corruption, args.severity, 2)
                fixed, _ = _build(entries[:2], root, corruption, args.severity, 2)
                n = len(sources)
                print(f"{corruption:<18} {n / one:>6.2f} {1e3 * one_cpu / n:>5.0f} ms "
                      f"{n / two:>6.2f} x{one / two:.2f} {1e3 * two_cpu / n:>5.0f} ms {two_cpu / two:>4.2f} "
                      f"{n / wall1:>6.2f} {1e3 * cpu1 / n:>5.0f} ms {cpu1 / wall1:>4.2f} "
                      f"{n / wall2:>6.2f} {1e3 * cpu2 / n:>5.0f} ms {cpu2 / wall2:>4.2f} "
                      f"{'x':>2}{wall1 / wall2:.2f} {fixed:>7.2f} "
                      f"{'x':>14}{wall1 / max(wall2 - fixed, 1e-9):.2f}", flush=True)
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
