"""Evaluate a detectron2 detector on clean and corrupted COCO (COCO-C): P, mPC and rPC.

Works for FAN configs and for any detectron2 model-zoo YAML config. Each finished cell is saved at once
under ``OUT/cells/<run key>/``; a rerun with the same weights, config, dataset, corruption library and
seed skips finished cells. Writes ``OUT/robustness.json`` (schema in docs/schemas.md).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from detectron2.data import DatasetCatalog
from detectron2.engine import launch
from detectron2.utils import comm

from fan_det.corruptions import parse_severities, register_coco_c, resolve_corruptions
from fan_det.data.register import register_tiny_datasets
from fan_det.metrics.detection import IncompleteGridError
from fan_det.protocol import plan_cells
from fan_det.robustness.cache import CellCache, sha256_json
from fan_det.robustness.model import (
    build_eval_model,
    config_sha256,
    load_config,
    model_name,
    resolve_config_path,
)
from fan_det.robustness.provenance import corruption_library_version, provenance
from fan_det.robustness.results import robustness_document, write_robustness
from fan_det.robustness.runner import check_plan, evaluate_grid

EXAMPLES = """examples:
  # a detectron2 model-zoo baseline, randomly initialised, 2 corruptions x 2 severities on the tiny set
  python -m fan_det.eval_coco_c --config COCO-Detection/retinanet_R_50_FPN_1x.yaml --random-init \\
      --dataset fan_synth_val_mini --corruptions gaussian_noise,fog --severities 1,3 --allow-partial \\
      --out output/coco_c_demo INPUT.MIN_SIZE_TEST 256 MODEL.RETINANET.NUM_CLASSES 4
  # the full COCO-C benchmark of a FAN RetinaNet on 8 GPUs
  python -m fan_det.eval_coco_c --config configs/fan_small_hybrid_retinanet.yaml --weights model_final.pth \\
      --dataset coco_2017_val --num-gpus 8 --num-workers 4 --out output/coco_c_fan_s
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.eval_coco_c", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True,
                        help="YAML config file, or a detectron2 model-zoo path (COCO-Detection/...yaml)")
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument("--weights", help="detector checkpoint (path or detectron2:// URL)")
    weights.add_argument("--random-init", action="store_true", help="evaluate a randomly initialised model")
    parser.add_argument("--dataset", default="coco_2017_val", help="registered detectron2 test set")
    parser.add_argument("--corruptions", default="benchmark",
                        help="a set (benchmark, all, holdout, noise, ...) or comma-separated names")
    parser.add_argument("--severities", default="1-5", help="e.g. 1-5 or 1,3")
    parser.add_argument("--coco-c-root", type=Path, default=None,
                        help="materialised COCO-C folder <root>/<corruption>/<severity>/<file>; "
                             "default: corrupt on the fly")
    parser.add_argument("--seed", type=int, default=0, help="corruption seed (and random-init seed)")
    parser.add_argument("--out", type=Path, default=Path("output/coco_c"), help="output folder")
    parser.add_argument("--allow-partial", action="store_true",
                        help="accept an incomplete grid; the summary is marked partial and names its cells")
    parser.add_argument("--num-workers", type=int, default=None,
                        help="data loader workers per process (default: DATALOADER.NUM_WORKERS)")
    parser.add_argument("--name", default=None, help="model name in the results (default: from the config)")
    parser.add_argument("--num-gpus", type=int, default=1, help="processes per machine (GPUs; CPU: gloo)")
    parser.add_argument("--num-machines", type=int, default=1)
    parser.add_argument("--machine-rank", type=int, default=0)
    parser.add_argument("--dist-url", default="auto", help="e.g. tcp://host:port for several machines")
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[],
                        help="config overrides as KEY VALUE pairs, e.g. INPUT.MIN_SIZE_TEST 512")
    return parser


def _dataset_identity(name: str) -> tuple[int, str]:
    """Image count and a hash of image ids, file names and annotations (not of where the files live)."""
    dicts = DatasetCatalog.get(name)
    content = [(d["image_id"], Path(d["file_name"]).name, d.get("annotations", [])) for d in dicts]
    return len(dicts), sha256_json(content)


def main(args: argparse.Namespace) -> dict | None:
    """Evaluate every cell (all ranks); the main rank writes and returns robustness.json's content.

    ``args`` come from ``build_parser``; ``cli`` has already refused an incomplete grid without
    ``--allow-partial``.
    """
    register_tiny_datasets()
    corruptions = resolve_corruptions(args.corruptions)
    severities = parse_severities(args.severities)
    cells = plan_cells(corruptions, severities)
    cfg = load_config(args.config, [*args.opts, "OUTPUT_DIR", str(args.out)], args.weights)
    materialised = args.coco_c_root is not None
    if materialised:
        register_coco_c(args.dataset, args.coco_c_root, corruptions, severities)
    model, weights_sha256 = build_eval_model(cfg, args.seed)
    num_workers = cfg.DATALOADER.NUM_WORKERS if args.num_workers is None else args.num_workers

    cache = None
    if comm.is_main_process():
        num_images, dataset_sha256 = _dataset_identity(args.dataset)
        protocol = {"corruptions": list(corruptions), "severities": list(severities), "seed": args.seed,
                    "mode": "materialised" if materialised else "on-the-fly",
                    "coco_c_root": str(args.coco_c_root) if materialised else None,
                    "imagecorruptions_version": corruption_library_version()}
        key = {"weights_sha256": weights_sha256, "config_sha256": config_sha256(cfg),
               "dataset": {"name": args.dataset, "sha256": dataset_sha256}, "seed": args.seed,
               "imagecorruptions_version": protocol["imagecorruptions_version"], "mode": protocol["mode"],
               "coco_c_root": protocol["coco_c_root"]}
        cache = CellCache(args.out / "cells", key)
        (args.out / "config.yaml").write_text(cfg.dump())
    records = evaluate_grid(model, cfg, args.dataset, cells, seed=args.seed, materialised=materialised,
                            num_workers=num_workers, cache=cache)
    if not comm.is_main_process():
        return None
    document = robustness_document(
        model={"name": args.name or model_name(cfg, args.config), "config": args.config,
               "config_sha256": config_sha256(cfg), "weights": args.weights, "weights_sha256": weights_sha256,
               "random_init": args.random_init},
        dataset={"name": args.dataset, "num_images": num_images},
        protocol=protocol, cells=records, allow_partial=args.allow_partial,
        provenance=provenance(shlex.join(sys.argv)),
    )
    write_robustness(args.out / "robustness.json", document)
    box = document["summary"]["stats"].get("AP", {})
    units = {"P": "", "mPC": "", "rPC": "%"}
    figures = ", ".join(f"{k} {box[k]:.2f}{unit}" for k, unit in units.items() if k in box)
    partial = " (partial grid)" if document["summary"]["partial"] else ""
    print(f"box AP: {figures}{partial}\nwrote {args.out / 'robustness.json'}")
    return document


def cli(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cells = plan_cells(resolve_corruptions(args.corruptions), parse_severities(args.severities))
    except ValueError as error:  # an unknown corruption or bad severities
        parser.error(str(error))
    try:
        check_plan(cells, args.allow_partial)
    except IncompleteGridError as error:
        parser.error(f"{error} (here: --allow-partial)")
    try:
        resolve_config_path(args.config)
    except FileNotFoundError as error:
        parser.error(str(error))
    if args.weights and "://" not in args.weights and not Path(args.weights).is_file():
        parser.error(f"--weights {args.weights} does not exist")
    register_tiny_datasets()
    if args.dataset not in DatasetCatalog.list():
        parser.error(f"--dataset {args.dataset} is not registered with detectron2; registered: "
                     f"{', '.join(sorted(DatasetCatalog.list()))}")
    if args.opts and len(args.opts) % 2:
        parser.error(f"config overrides must be KEY VALUE pairs, got {args.opts}")
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))


if __name__ == "__main__":
    cli()
