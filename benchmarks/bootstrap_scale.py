"""The per-image bootstrap of box AP at COCO val's size: weighted sums against re-accumulating.

A synthetic COCO-size cell (no images): 5,000 images, 80 classes with a long tail, about 7.3 objects an
image (1% crowd), 100 detections an image (most objects found with jitter, the rest false positives).
pycocotools matches it once; the cell is then copied into a grid of 76 cells (the clean cell and
15 x 5 COCO-C cells; copies cost what distinct cells cost, the matching aside) and
``bootstrap_intervals`` computes P and mPC intervals from 200 resamples. The re-accumulating method
(pycocotools' ``accumulate`` per cell and resample, as the tests' reference states it) is timed on a few
resamples of one cell and extrapolated to the grid, labelled so. Prints the machine and its load, wall
and CPU seconds, the per-resample speed ratio, the size of the matched arrays and the peak RSS.

  python benchmarks/bootstrap_scale.py                                  # COCO size, about 10 min
  python benchmarks/bootstrap_scale.py --images 200 --resamples 20 --old-resamples 2    # a minute
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, as stated
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import copy  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402

from fan_det.cli import HelpFormatter  # noqa: E402
from fan_det.paths import REPO_ROOT  # noqa: E402
from fan_det.protocol import BENCHMARK, CLEAN_CELL, SEVERITIES  # noqa: E402
from fan_det.robustness.bootstrap import bootstrap_intervals, match_detections  # noqa: E402

sys.path.insert(0, str(REPO_ROOT / "tests" / "natural_shift"))  # the tests' reference, not a copy of it
from bootstrap_reference import evaluated, reaccumulated_ap  # noqa: E402

WIDTH, HEIGHT = 640, 480


def synthetic_cell(num_images: int, num_classes: int, per_image: int, seed: int) -> tuple[COCO, list[dict]]:
    """COCO-like ground truth and exactly ``per_image`` detections an image, with numpy's generator."""
    rng = np.random.default_rng(seed)
    share = 1.0 / np.arange(1, num_classes + 1)  # a long tail: the first class is the most common
    share /= share.sum()
    images = [{"id": i + 1, "width": WIDTH, "height": HEIGHT, "file_name": f"{i + 1:012d}.jpg"}
              for i in range(num_images)]
    anns, dets = [], []
    for image in images:
        count = int(rng.poisson(7.3))
        sizes = np.exp(rng.uniform(np.log(6), np.log(400), (count, 2)))
        corners = rng.uniform(0, 1, (count, 2)) * ([WIDTH, HEIGHT] - sizes).clip(1)
        boxes = np.hstack([corners, sizes])
        labels = rng.choice(num_classes, size=count, p=share) + 1
        for box, label in zip(boxes, labels, strict=True):
            anns.append({"id": len(anns) + 1, "image_id": image["id"], "category_id": int(label),
                         "bbox": [float(v) for v in box], "area": float(box[2] * box[3]),
                         "iscrowd": int(rng.random() < 0.01)})
        found = rng.random(count) < 0.85
        jitter = rng.normal(0, 0.08, (count, 4)) * np.hstack([sizes, sizes])
        hits = np.abs(boxes + jitter)[found]
        misses = per_image - len(hits)
        noise = np.hstack([rng.uniform(0, 1, (misses, 2)) * [WIDTH, HEIGHT],
                           np.exp(rng.uniform(np.log(6), np.log(300), (misses, 2)))])
        all_boxes = np.vstack([hits, noise])
        all_labels = np.concatenate([labels[found], rng.choice(num_classes, size=misses, p=share) + 1])
        scores = np.concatenate([rng.beta(4, 2, len(hits)), rng.beta(1, 6, misses)])
        for box, label, score in zip(all_boxes, all_labels, scores, strict=True):
            dets.append({"image_id": image["id"], "category_id": int(label), "score": float(score),
                         "bbox": [float(v) for v in box]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns,
                  "categories": [{"id": c, "name": f"class{c}"} for c in range(1, num_classes + 1)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt, dets


def cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            return names[0]
    return platform.processor() or platform.machine()


def matched_bytes(cell: object) -> int:
    """Bytes of every numpy array and sparse matrix in a matched cell."""
    total = 0
    for category in cell.categories:
        total += category.gt_images.nbytes + category.gt_counts.nbytes
        total += sum(a.nbytes for a in (category.segments.data, category.segments.indices,
                                        category.segments.indptr))
        total += sum(a.nbytes for t in category.thresholds for a in vars(t).values())
    return total


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(function, *args):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--images", type=int, default=5000, help="images in the synthetic cell")
    parser.add_argument("--classes", type=int, default=80, help="categories")
    parser.add_argument("--detections", type=int, default=100, help="detections an image")
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples of the grid")
    parser.add_argument("--old-resamples", type=int, default=3,
                        help="resamples of one cell timed with the re-accumulating method")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic set and the draws")
    args = parser.parse_args()
    if min(args.images, args.classes, args.detections, args.old_resamples) < 1 or args.resamples < 2:
        parser.error("sizes must be positive and --resamples at least 2")

    print(f"machine: {platform.system()} {platform.machine()}, CPU {cpu_name()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          "at start; this benchmark runs on the CPU, one thread")
    gt, dets = synthetic_cell(args.images, args.classes, args.detections, args.seed)
    print(f"cell: {args.images} images, {args.classes} classes, {len(gt.anns)} objects "
          f"({sum(a['iscrowd'] for a in gt.anns.values())} crowd), {len(dets)} detections")

    matched, match_wall, match_cpu = timed(match_detections, gt, dets)
    grid = [tuple(CLEAN_CELL)] + [(c, s) for c in BENCHMARK for s in SEVERITIES]
    cells = {cell: copy.deepcopy(matched) for cell in grid}
    size = matched_bytes(matched)
    print(f"matching (COCOeval.evaluate, once per cell): {match_wall:.1f} s wall, {match_cpu:.1f} s CPU "
          f"per cell; matched arrays {size / 2**20:.1f} MiB per cell, {len(grid) * size / 2**30:.2f} GiB "
          f"for the {len(grid)} cells")

    intervals, new_wall, new_cpu = timed(bootstrap_intervals, cells, args.resamples, args.seed)
    per_new = new_cpu / (len(grid) * args.resamples)
    print(f"weighted sums: {len(grid)} cells x {args.resamples} resamples in {new_wall:.1f} s wall, "
          f"{new_cpu:.1f} s CPU ({new_cpu / 60:.2f} min); {1e3 * per_new:.2f} ms CPU per cell and resample; "
          f"P [{intervals['P'][0]:.2f}, {intervals['P'][1]:.2f}], "
          f"mPC [{intervals['mPC'][0]:.2f}, {intervals['mPC'][1]:.2f}]")

    print(f"peak RSS so far {peak_rss_gib():.2f} GiB (the {len(grid)} matched cells, one cell's matching, "
          "the resamples)")
    evaluation = evaluated(gt, dets)
    rng = np.random.default_rng(args.seed)
    draws = [rng.integers(0, args.images, size=args.images) for _ in range(args.old_resamples)]
    _, old_wall, old_cpu = timed(lambda: [reaccumulated_ap(evaluation, d) for d in draws])
    per_old = old_cpu / args.old_resamples
    grid_old = per_old * len(grid) * args.resamples
    print(f"re-accumulating: {args.old_resamples} resamples of one cell in {old_wall:.1f} s wall, "
          f"{old_cpu:.1f} s CPU; {1e3 * per_old:.2f} ms CPU per cell and resample; the grid extrapolated: "
          f"{grid_old:.0f} s CPU ({grid_old / 3600:.2f} h)")
    print(f"ratio re-accumulating / weighted sums, CPU per cell and resample: {per_old / per_new:.2f}x")
    print(f"peak RSS {peak_rss_gib():.2f} GiB (the re-accumulating method's COCOeval included); "
          "load average at the end "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
