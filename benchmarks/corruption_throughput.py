"""COCO-C builder throughput: corrupted images per second with 1 and N workers, against a bare loop.

The baseline, measured in the same run, is a plain sequential loop calling ``imagecorruptions.corrupt``
on already-decoded arrays of the same images and cells: no reading, seeding, encoding or writing. The
builder's overhead is everything else (decode, seeding, PNG encode, atomic write, journal); its per-stage
times come from the 1-worker build. Builder timings include starting the worker processes (and numba's
compile in each), which a small workload does not amortise: use ``--dataset fan_synth_val`` for a larger
one. ``python benchmarks/corruption_throughput.py [--workers N] [--dataset NAME] [--severities 1,3,5]``.

``--busy N`` instead compares, with N busy-looping processes started by the script competing for the
cores, a build whose workers share the thread budget (``--threads``: the available cores) with one whose
workers each take every core (what the libraries do unbudgeted), and prints the ratio of their speeds.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import imagecorruptions
import numpy as np

from fan_det.corruptions import BENCHMARK, build_coco_c, corrupt, parse_severities, read_rgb
from fan_det.corruptions.builder import load_images
from fan_det.data.real_photos import build_real_photos
from fan_det.data.register import register_tiny_datasets
from fan_det.runtime.threads import available_cores, plan_threads


def machine() -> str:
    return (f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores visible, "
            f"Python {platform.python_version()}, {platform.system()}").replace("  ", " ")


def busy_comparison(entries: list, severities: tuple[int, ...], workers: int, busy: int) -> None:
    """Budgeted against unbudgeted worker threads while ``busy`` processes spin on the cores."""
    cores = available_cores()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        walls = {}
        for label, threads in (("budgeted", cores), ("unbudgeted", cores * workers)):
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                build_coco_c(entries, out, BENCHMARK, severities, workers=workers, progress=False,
                             threads=threads)
                walls[label] = time.perf_counter() - start
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    count = len(entries) * len(BENCHMARK) * len(severities)
    print(f"machine: {machine()}; {busy} busy processes, {workers} workers, {count} corrupted images")
    for (label, wall), threads in zip(walls.items(), (cores, cores * workers), strict=True):
        per_worker = plan_threads(threads, workers).per_worker
        print(f"{label:10s} ({per_worker} thread(s) per worker): {count / wall:6.2f} img/s, "
              f"wall {wall:.1f} s")
    print(f"budgeted / unbudgeted speed: {walls['unbudgeted'] / walls['budgeted']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--severities", default="1,3,5", help="range or list, e.g. 1-5 or 3")
    parser.add_argument("--dataset", default=None,
                        help="a registered tiny set such as fan_synth_val (default: the 4 real photos)")
    parser.add_argument("--busy", type=int, default=0,
                        help="compare budgeted and unbudgeted threads with this many busy processes")
    args = parser.parse_args()
    severities = parse_severities(args.severities)
    if args.dataset:
        register_tiny_datasets()
        entries = load_images(args.dataset, None, "png")
    else:
        json_path, image_root = build_real_photos()
        entries = load_images(str(json_path), image_root, "png")
    if args.busy:
        busy_comparison(entries, severities, args.workers, args.busy)
        return
    arrays = [read_rgb(e.source) for e in entries]
    cells = [(c, s) for c in BENCHMARK for s in severities]
    count = len(entries) * len(cells)
    corrupt(arrays[0], "glass_blur", 1)  # numba's first compile, outside every timing

    start = time.perf_counter()
    for image in arrays:
        for c, s in cells:
            np.random.seed(0)
            imagecorruptions.corrupt(image, s, c)
    bare = time.perf_counter() - start

    timings, seconds = {}, None
    for workers in (1, args.workers):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            report = build_coco_c(entries, out, BENCHMARK, severities, workers=workers, progress=False)
            timings[workers] = time.perf_counter() - start
            assert report.written == count
            seconds = seconds or report.seconds

    print(f"machine: {machine()}")
    print(f"{len(entries)} images of {args.dataset or 'the real photos'} "
          f"({arrays[0].shape[1]}x{arrays[0].shape[0]} and similar), "
          f"{len(BENCHMARK)} corruptions x severities {severities} = {count} corrupted images, PNG level 1")
    print(f"bare imagecorruptions loop : {count / bare:6.2f} img/s  (ratio 1.00)")
    for workers, wall in timings.items():
        print(f"builder, {workers} worker(s)     : {count / wall:6.2f} img/s  (ratio {bare / wall:.2f} "
              f"of bare; wall {wall:.1f} s incl. process start-up)")
    total = sum(seconds.values())
    shares = ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in seconds.items())
    print(f"1-worker build time by stage: {shares}")
    print(f"overhead of the 1-worker build over the bare loop: {100 * (timings[1] / bare - 1):+.1f}%")
    print(f"scaling 1 -> {args.workers} workers: x{timings[1] / timings[args.workers]:.2f}")


if __name__ == "__main__":
    main()
