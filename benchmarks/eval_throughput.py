"""Throughput of a COCO-C evaluation (corruption + inference + scoring) per number of loader workers.

For each corruption and worker count, runs ``fan_det.robustness.inference.evaluate_cell`` over the same
images and reports images/s, the share of the time the model waited for (corrupted) images and that wait
per batch (detectron2's test loader: one image a batch), and the ratio to the baseline measured first in
this process (clean images, the first worker count). Projects
the hours for the full COCO-C grid of COCO val (15 x 5 + clean = 76 passes over 5000 images) per device.

The images are the synthetic val set upscaled to ``--size`` (default 640x480, COCO's typical size), so the
corruption cost matches COCO's; the model is randomly initialised (throughput does not need weights).

Each setting runs twice: unbudgeted (every library's default threads: one per core in the main process
and in each loader worker) and budgeted (``--threads`` split by ``fan_det.runtime.threads.plan_threads``
between the main process and its workers, as ``eval_coco_c --threads`` does); ``budget x`` is the
budgeted rate over the unbudgeted one. ``--busy N`` starts N processes that spin on the CPU while the
busy sweeps run, as other jobs on a shared machine would; each setting is then also measured idle first,
and ``busy/idle`` is its throughput under load over its idle throughput (the fair share is
cores / (cores + N)).

  python benchmarks/eval_throughput.py                                # CPU, tiny FAN RetinaNet
  python benchmarks/eval_throughput.py --busy 2 --workers 2           # on a machine kept busy
  python benchmarks/eval_throughput.py --device cuda --config configs/fan_retinanet.yaml \\
      --min-size-test 800 --max-size-test 1333 --images 200 --workers 0,4,8,12   # FAN-S-Hybrid, COCO res.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
from contextlib import contextmanager
from pathlib import Path

from detectron2.data import MetadataCatalog
from detectron2.data.datasets import register_coco_instances
from PIL import Image

from fan_det.cli import HelpFormatter
from fan_det.data.register import register_tiny_datasets
from fan_det.paths import REPO_ROOT
from fan_det.protocol import Cell
from fan_det.robustness.detector import build_eval_model, load_config
from fan_det.robustness.inference import evaluate_cell
from fan_det.runtime.provenance import machine
from fan_det.runtime.threads import apply_threads, available_cores, plan_threads

GRID_IMAGES = 76 * 5000
TINY_CONFIG = REPO_ROOT / "configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml"


def upscaled_dataset(count: int, size: tuple[int, int], folder: Path) -> str:
    """Register the first ``count`` synthetic val images resized to ``size`` (boxes scaled to match)."""
    register_tiny_datasets()
    meta = MetadataCatalog.get("fan_synth_val")
    data = json.loads(Path(meta.json_file).read_text())
    images = data["images"][:count]
    keep = {im["id"] for im in images}
    width, height = size
    scales = {}
    for im in images:
        scales[im["id"]] = (width / im["width"], height / im["height"])
        Image.open(Path(meta.image_root) / im["file_name"]).convert("RGB").resize(size, Image.BILINEAR).save(
            folder / im["file_name"])
        im.update(width=width, height=height)
    annotations = []
    for ann in data["annotations"]:
        if ann["image_id"] in keep:
            sx, sy = scales[ann["image_id"]]
            x, y, w, h = ann["bbox"]
            box = {"bbox": [x * sx, y * sy, w * sx, h * sy], "area": w * sx * h * sy}
            annotations.append({**{k: v for k, v in ann.items() if k != "segmentation"}, **box})
    data.update(images=images, annotations=annotations)
    (folder / "annotations.json").write_text(json.dumps(data))
    name = f"throughput_{count}_{width}x{height}"
    register_coco_instances(name, {}, str(folder / "annotations.json"), str(folder))
    return name


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy(processes: int):
    """``processes`` CPU-bound processes running until the block ends (a shared machine's other jobs)."""
    spawn = multiprocessing.get_context("spawn")
    spinners = [spawn.Process(target=_spin, daemon=True) for _ in range(processes)]
    for p in spinners:
        p.start()
    try:
        yield
    finally:
        for p in spinners:
            p.terminate()
            p.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--config", default=str(TINY_CONFIG), help="detectron2 config of the model")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--images", type=int, default=16, help="images per cell")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT the images are resized to")
    parser.add_argument("--min-size-test", type=int, default=256)
    parser.add_argument("--max-size-test", type=int, default=342)
    parser.add_argument("--workers", default="0,2", help="comma-separated loader worker counts")
    parser.add_argument("--corruptions", default="gaussian_noise:3,glass_blur:3",
                        help="corruption:severity pairs measured after the clean baseline")
    parser.add_argument("--threads", type=int, default=None,
                        help="thread budget of the budgeted runs; None: the cores this process may use")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="CPU-bound processes running meanwhile")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    workers = [int(w) for w in args.workers.split(",")]
    pairs = [p.split(":") for p in args.corruptions.split(",")]
    cells = [Cell("clean", 0)] + [Cell(c, int(s)) for c, s in pairs]
    opts = ["MODEL.DEVICE", args.device, "INPUT.MIN_SIZE_TEST", str(args.min_size_test),
            "INPUT.MAX_SIZE_TEST", str(args.max_size_test)]
    cfg = load_config(args.config, opts)
    model, _ = build_eval_model(cfg, seed=0)
    print(f"machine: {machine()}; {available_cores()} cores available; device {args.device}; "
          f"{args.busy} busy processes")
    print(f"model: {args.config} (random init), test size {args.min_size_test}/{args.max_size_test}, "
          f"{args.images} images of {args.size}")

    def rate(cell: Cell, n: int, worker_threads: int | None) -> tuple[float, float, float]:
        """Images/s, the share of the time the model waited for images and that wait per batch (s)."""
        record = evaluate_cell(model, cfg, dataset, cell, seed=0, materialised=False, num_workers=n,
                               worker_threads=worker_threads)
        wait = record["data_wait_seconds"]
        return record["num_images"] / record["seconds"], wait / record["seconds"], wait / record["num_images"]

    def sweep(budgeted: bool) -> dict:
        """Each (cell, workers) point, with every library's default threads or within the budget."""
        results = {}
        for cell, n in grid:
            worker_threads = None
            if budgeted:
                budget = plan_threads(args.threads, n)
                apply_threads(budget.main)
                worker_threads = budget.per_worker or None
            results[cell, n] = rate(cell, n, worker_threads=worker_threads)
        return results

    grid = [(cell, n) for cell in cells for n in workers]
    with tempfile.TemporaryDirectory() as folder:
        dataset = upscaled_dataset(args.images, size, Path(folder))
        evaluate_cell(model, cfg, dataset, cells[0], seed=0, materialised=False, num_workers=0)  # warm-up
        # library defaults first: applying a budget changes this process's threads for good
        idle_free = sweep(budgeted=False) if args.busy else None
        with busy(args.busy):
            free = sweep(budgeted=False)
        idle_budgeted = sweep(budgeted=True) if args.busy else None
        with busy(args.busy):
            budgeted = sweep(budgeted=True)
    baseline = free[grid[0]][0]
    header = (f"{'cell':>18} {'workers':>7} {'img/s':>8} {'x base':>7} {'wait %':>7} {'wait ms/batch':>13} "
              f"{'grid hours':>10} {'budgeted img/s':>14} {'budget x':>8}")
    if args.busy:
        header += f" {'free busy/idle':>14} {'budgeted busy/idle':>18}"
    print(header)
    for (cell, n), (speed, wait, per_batch) in free.items():
        within = budgeted[cell, n][0]
        line = (f"{cell.name:>18} {n:>7} {speed:>8.2f} {speed / baseline:>7.2f} {100 * wait:>7.1f} "
                f"{1000 * per_batch:>13.1f} {GRID_IMAGES / speed / 3600:>10.1f} {within:>14.2f} "
                f"{within / speed:>8.2f}")
        if args.busy:
            line += (f" {speed / idle_free[cell, n][0]:>14.2f} "
                     f"{within / idle_budgeted[cell, n][0]:>18.2f}")
        print(line)


if __name__ == "__main__":
    main()
