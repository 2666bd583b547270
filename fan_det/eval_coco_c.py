"""Evaluate a detectron2 detector on clean and corrupted COCO (COCO-C): P, mPC and rPC.

Works for FAN configs and for any detectron2 model-zoo YAML config. Each finished cell is saved at once
under ``OUT/cells/<run key>/``; a rerun with the same weights, config, dataset, images and scorer skips
finished cells. Writes ``OUT/robustness.json`` (schema in docs/schemas.md). The work is
``fan_det.robustness.run.prepare_coco_c`` and ``fan_det.robustness.job.run_job``; this module parses the
options and launches the job, as detectron2's tools do.
"""

from __future__ import annotations

import argparse

from fan_det import cli
from fan_det.robustness.job import launch_or_refuse
from fan_det.robustness.run import DEFAULT_DATASET, DEFAULT_OUT, CocoCOptions, prepare_coco_c
from fan_det.robustness.scoring import add_scorer_argument

PROG = "fan_det.eval_coco_c"
EXAMPLES = f"""examples:
  # a detectron2 model-zoo baseline, randomly initialised, 2 corruptions x 2 severities on the tiny set
  python -m {PROG} --config COCO-Detection/retinanet_R_50_FPN_1x.yaml --random-init \\
      --dataset fan_synth_val_mini --corruptions gaussian_noise,fog --severities 1,3 --allow-partial \\
      --workers 0 --out runs/coco_c_demo INPUT.MIN_SIZE_TEST 256 MODEL.RETINANET.NUM_CLASSES 4
  # the tiny FAN RetinaNet, trained first by (docs/detection.md):
  #   python -m fan_det.train --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml OUTPUT_DIR runs/tiny
  python -m {PROG} --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml \\
      --weights runs/tiny/model_final.pth --dataset fan_synth_val --corruptions all --workers 0 \\
      --out runs/coco_c_tiny
  # the full COCO-C benchmark of a FAN-S-Hybrid RetinaNet on 8 GPUs, trained first by (docs/detection.md):
  #   python -m fan_det.train --config configs/fan_retinanet.yaml --num-gpus 8 OUTPUT_DIR runs/fan_s
  python -m {PROG} --config configs/fan_retinanet.yaml --weights runs/fan_s/model_final.pth \\
      --dataset coco_2017_val --num-gpus 8 --workers 4 --out runs/coco_c_fan_s
"""


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ToolParser(prog=f"python -m {PROG}", description=__doc__, epilog=EXAMPLES,
                            formatter_class=cli.HelpFormatter)
    cli.add_detector_arguments(parser)
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help="registered detectron2 test set")
    parser.add_argument("--corruptions", default="benchmark",
                        help="a set (benchmark, all, holdout, noise, ...) or comma-separated names")
    parser.add_argument("--severities", default="1-5", help="e.g. 1-5 or 1,3")
    parser.add_argument("--coco-c-root", default=None, metavar="DIR",
                        help="materialised COCO-C (python -m fan_det.build_coco_c); None: corrupt on the fly")
    parser.add_argument("--allow-partial", action="store_true",
                        help="accept an incomplete grid; the summary is marked partial and names its cells")
    add_scorer_argument(parser)
    helps = {  # the shared helpers' texts, made specific to this tool
        "name": "model name in the results and the report; None: from the config",
        "seed": "corruption seed and random-init seed; None: 0 on the fly, and the seed that built "
                "--coco-c-root (another value is refused)",
    }
    cli.add_evaluation_arguments(parser, default_out=DEFAULT_OUT, results_file="robustness.json",
                                 helps=helps)
    parser.set_defaults(seed=None)
    parser.add_argument("--num-workers", dest="workers", type=int, help=argparse.SUPPRESS)  # former spelling
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    options = CocoCOptions(**cli.eval_fields(args, PROG), dataset=args.dataset,
                           corruptions=args.corruptions, severities=args.severities,
                           coco_c_root=args.coco_c_root, allow_partial=args.allow_partial, scorer=args.scorer)
    launch_or_refuse(args, prepare_coco_c, options)


if __name__ == "__main__":
    main()
