"""COCO-C build at COCO scale: throughput against a bare loop, worker scaling, peak memory, resume cost.

A synthetic COCO-format set is built deterministically (seeded) with COCO's image sizes (long side 640,
aspect ratios as in val2017: mostly 4:3 landscape, then 3:4 portrait, 3:2, 16:9, square), saved as
JPEG like COCO, 5,000 images by default. For a cheap and an expensive corruption (one severity):

- bare loop: decode, corrupt and encode each image exactly as the builder does, in one process, no
  writing, no bookkeeping; the builder with 1 worker should reach >= 0.9x its rate;
- the builder with 1 and N workers (N: --workers), wall time including process start-up, and the
  start-up alone (spawned workers import the package), so scaling can be read without it;
- peak RSS of the build (largest process) at a tenth of the images and at all of them;
- resume: rerunning a finished build (sources hashed, files checked, nothing recomputed) per image,
  against computing;
- shards: N one-worker ``--shard K/N`` builds run at once into their own folders (N machines in
  miniature), against one N-worker build, and the ``--merge`` that joins them.

``python benchmarks/coco_scale.py [--images 5000] [--workers N] [--cheap brightness]
[--expensive glass_blur] [--severity 3] [--keep DIR]``. Prints ratios; figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fan_det.corruptions import Settings, build_coco_c, corrupt, load_images, read_rgb
from fan_det.runtime.hashing import sha256_file
from fan_det.runtime.threads import available_cores

# (width, height, share) of COCO val2017's most common sizes, long side 640
SIZES = ((640, 480, 0.55), (480, 640, 0.15), (640, 427, 0.15), (640, 360, 0.05), (640, 640, 0.05),
         (427, 640, 0.05))


def make_set(root: Path, count: int, seed: int = 0) -> Path:
    """``count`` deterministic JPEGs of COCO's sizes (smooth shapes plus sensor-like noise) + a COCO json."""
    json_path = root / "instances.json"
    if json_path.exists() and len(json.loads(json_path.read_text())["images"]) == count:
        return json_path
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    shares = np.array([s for *_, s in SIZES])
    images = []
    for i in range(count):
        width, height, _ = SIZES[rng.choice(len(SIZES), p=shares / shares.sum())]
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        base = np.stack([np.sin(x / rng.uniform(20, 90) + rng.uniform(0, 6)) *
                         np.cos(y / rng.uniform(20, 90) + rng.uniform(0, 6)) for _ in range(3)], axis=2)
        pixels = (127 + 90 * base + rng.normal(0, 8, base.shape)).clip(0, 255).astype(np.uint8)
        name = f"{i:012d}.jpg"
        Image.fromarray(pixels).save(root / "images" / name, quality=90)
        images.append({"id": i + 1, "file_name": name, "width": width, "height": height})
    json_path.write_text(json.dumps({"images": images, "annotations": [], "categories": []}))
    return json_path


def bare_loop(sources: list[str], corruption: str, severity: int) -> float:
    """Seconds to decode, corrupt and encode every image as the builder does, with nothing else."""
    settings = Settings()
    start = time.perf_counter()
    for i, source in enumerate(sources):
        settings.encode(corrupt(read_rgb(source), corruption, severity, seed=0, key=i + 1))
    return time.perf_counter() - start


def timed_build(entries: list, out: Path, corruption: str, severity: int, workers: int) -> float:
    """Wall seconds of ``build_coco_c`` in this process (N workers: including their start-up)."""
    start = time.perf_counter()
    build_coco_c(entries, out, (corruption,), (severity,), workers=workers, progress=False)
    return time.perf_counter() - start


def build_command(json_path: Path, corruption: str, severity: int, workers: int) -> list[str]:
    """``python -m fan_det.build_coco_c`` over the synthetic set, one corruption and severity (no --out)."""
    return [sys.executable, "-m", "fan_det.build_coco_c", "--dataset", str(json_path), "--image-root",
            str(json_path.parent / "images"), "--corruptions", corruption, "--severities", str(severity),
            "--workers", str(workers), "--no-progress"]


def cli_build(json_path: Path, out: Path, corruption: str, severity: int, workers: int,
              limit_images: int | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB, largest process) of a ``build_coco_c`` run in a fresh process."""
    if limit_images is not None:
        subset = json.loads(json_path.read_text())
        subset["images"] = subset["images"][:limit_images]
        json_path = json_path.with_name(f"instances_{limit_images}.json")
        json_path.write_text(json.dumps(subset))
    command = [*build_command(json_path, corruption, severity, workers), "--out", str(out)]
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", code, *command], check=True, capture_output=True, text=True)
    wall, rss = done.stdout.split()
    return float(wall), int(rss)


def sharded_build(json_path: Path, out: Path, corruption: str, severity: int,
                  shards: int) -> tuple[float, float]:
    """Wall seconds of ``shards`` concurrent one-worker ``--shard K/N`` builds into their own folders (as
    on ``shards`` machines), and of ``--merge`` joining them."""
    command = build_command(json_path, corruption, severity, workers=1)
    folders = [out / f"shard{k}" for k in range(shards)]
    t0 = time.perf_counter()
    builds = [subprocess.Popen([*command, "--out", str(folder), "--shard", f"{k}/{shards}"],
                               stdout=subprocess.DEVNULL) for k, folder in enumerate(folders)]
    if any(build.wait() for build in builds):
        raise SystemExit("error: a shard build failed (its output is above)")
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fan_det.build_coco_c", "--out", str(out / "merged"), "--merge",
                    *map(str, folders)], check=True, stdout=subprocess.DEVNULL)
    return built, time.perf_counter() - t0


def image_hashes(root: Path) -> dict[Path, str]:
    """sha256 of every corrupted image under ``root`` (manifests and journals aside)."""
    return {path.relative_to(root): sha256_file(path) for path in root.rglob("*")
            if path.suffix in (".png", ".jpg")}


def pool_startup(workers: int) -> float:
    """Seconds to start ``workers`` spawned processes that import the builder (paid once per build)."""
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_import_builder, range(workers))
    return time.perf_counter() - start


def _import_builder(_: int) -> None:
    import fan_det.corruptions.builder  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--images", type=int, default=5000, help="synthetic images")
    parser.add_argument("--workers", type=int, default=max(2, available_cores()),
                        help="N for the N-worker run")
    parser.add_argument("--cheap", default="brightness", help="a cheap corruption")
    parser.add_argument("--expensive", default="glass_blur", help="an expensive corruption")
    parser.add_argument("--severity", type=int, default=3, help="the one severity built")
    parser.add_argument("--keep", default=None, help="folder for the synthetic set (kept between runs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        t0 = time.perf_counter()
        json_path = make_set(root / f"synthetic_{args.images}", args.images)
        print(f"machine: {platform.machine()}, {available_cores()} cores available, "
              f"load average {os.getloadavg()[0]:.1f} at start; Python {platform.python_version()}")
        print(f"set: {args.images} synthetic COCO-size JPEGs ({time.perf_counter() - t0:.0f} s to make)")
        entries = load_images(str(json_path), json_path.parent / "images", "png")
        sources = [e.source for e in entries]
        corrupt(read_rgb(sources[0]), "glass_blur", 1)  # numba's compile, outside every timing
        startup = pool_startup(args.workers)
        n = args.workers
        print(f"start-up of {n} spawned workers: {startup:.1f} s (included in the {n}-worker walls)")
        for corruption in (args.cheap, args.expensive):
            bare = bare_loop(sources, corruption, args.severity)
            walls = {}
            for workers in (1, n):
                out = Path(tempfile.mkdtemp(dir=root))
                walls[workers] = timed_build(entries, out, corruption, args.severity, workers)
                if workers == 1:
                    shutil.rmtree(out)
            resume = timed_build(entries, out, corruption, args.severity, 1)
            shutil.rmtree(out)
            print(f"{corruption} severity {args.severity}: bare loop {args.images / bare:.2f} img/s; "
                  f"builder 1 worker {args.images / walls[1]:.2f} img/s = {bare / walls[1]:.2f}x bare "
                  "(goal >= 0.9); "
                  f"{n} workers x{walls[1] / walls[n]:.2f} of 1 worker (goal >= 1.8), "
                  f"x{walls[1] / max(walls[n] - startup, 1e-9):.2f} without start-up; resume of the finished "
                  f"build {1000 * resume / args.images:.2f} ms/image = {resume / walls[1]:.3f} of computing")
        out = Path(tempfile.mkdtemp(dir=root))
        for count in (max(1, args.images // 10), args.images):
            wall, rss = cli_build(json_path, out / str(count), args.cheap, args.severity, n,
                                  limit_images=count)
            print(f"peak RSS, {count} images, {n} workers: {rss / 1024:.0f} MiB (largest process), "
                  f"build {wall:.1f} s incl. start")
        built, merged = sharded_build(json_path, out / "shards", args.cheap, args.severity, n)
        sharded, single = image_hashes(out / "shards" / "merged"), image_hashes(out / str(args.images))
        print(f"{args.cheap}: {n} shards ({n} processes x 1 worker, own folders) {built:.1f} s = "
              f"x{wall / built:.2f} the speed of one {n}-worker build; merging them {merged:.1f} s "
              f"({1000 * merged / args.images:.2f} ms/image); {len(sharded)} merged images identical to "
              f"the one build's {len(single)}: {bool(sharded) and sharded == single}")
        shutil.rmtree(out)
    print(f"load average at end: {os.getloadavg()[0]:.1f}; peak RSS of this script: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
