"""Time to score one COCO-C cell: faster-coco-eval against pycocotools, on the same detections.

The workload is synthetic (no images): a 5,000-image COCO ground truth (COCO val's size) with random
detections, boxes and masks, as the scorer-agreement test builds it. Prints seconds per scorer and task,
the speed-up (pycocotools / faster-coco-eval) and the largest difference of the 12 stats (0-1 scale).

  python benchmarks/coco_scoring.py                 # 5,000 images, bbox and segm, best of 3
  python benchmarks/coco_scoring.py --images 1000 --repeats 1 --tasks bbox
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from fan_det.cli import HelpFormatter
from fan_det.paths import REPO_ROOT
from fan_det.robustness.scoring import SCORERS, coco_stats, scorer_version
from fan_det.runtime.provenance import machine

sys.path.insert(0, str(REPO_ROOT / "tests" / "robustness"))  # the tests' synthetic set, not a copy of it
from coco_scoring_synthetic import synthetic_coco  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--images", type=int, default=5000, help="images in the synthetic ground truth")
    parser.add_argument("--tasks", default="bbox,segm", help="comma-separated: bbox, segm")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per scorer; the fastest counts")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic set")
    args = parser.parse_args()
    gt, detections = synthetic_coco(args.images, seed=args.seed, masks="segm" in args.tasks)
    print(f"machine: {machine()}")
    print(f"{args.images} images, {len(gt['annotations'])} objects, {len(detections)} detections; "
          + ", ".join(f"{s} {scorer_version(s)}" for s in SCORERS))
    print(f"{'task':>5} {'pycocotools s':>14} {'faster-coco-eval s':>19} {'speed-up':>9} {'max |diff|':>11}")
    for task in args.tasks.split(","):
        seconds, stats = {}, {}
        for scorer in SCORERS:
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                stats[scorer] = coco_stats(gt, detections, task, scorer)
                times.append(time.perf_counter() - start)
            seconds[scorer] = min(times)
        diff = float(np.abs(stats["pycocotools"] - stats["faster-coco-eval"]).max())
        print(f"{task:>5} {seconds['pycocotools']:>14.2f} {seconds['faster-coco-eval']:>19.2f} "
              f"{seconds['pycocotools'] / seconds['faster-coco-eval']:>8.1f}x {diff:>11.1e}")


if __name__ == "__main__":
    main()
