"""Evaluate a detectron2 semantic-segmentation model on ACDC's adverse conditions (fog, night, rain, snow;
Sakaridis et al. 2021): mIoU per condition and their mean, the segmentation twin of COCO-O.

Each condition's validation split is a registered semantic-segmentation set, evaluated and cached like a
clean cell under ``OUT/conditions/<condition>/<run key>/``. Writes ``OUT/acdc.json`` (docs/schemas.md);
the layout ACDC must have is in docs/data.md. The work is ``fan_det.robustness.acdc.prepare_acdc`` and
``fan_det.robustness.job.run_job``; this module parses the options and launches the job.
"""

from __future__ import annotations

from fan_det.cli import (
    HelpFormatter,
    ToolParser,
    add_config_overrides,
    add_detection_run_arguments,
    add_detector_arguments,
    add_launch_arguments,
    add_threads_argument,
    fail,
    flag_message,
    launch_job,
)
from fan_det.robustness.acdc import DEFAULT_OUT, AcdcOptions, prepare_acdc
from fan_det.robustness.job import run_job
from fan_det.robustness.options import OptionError
from fan_det.runtime.provenance import command_line

PROG = "fan_det.eval_acdc"
EXAMPLES = f"""examples:
  # the tiny ACDC-shaped set (the tiny segmentation set restyled per condition), a random model
  python -m {PROG} --config Misc/semantic_R_50_FPN_1x.yaml --random-init --tiny --workers 0 \\
      --out runs/acdc_demo MODEL.SEM_SEG_HEAD.NUM_CLASSES 5 INPUT.MIN_SIZE_TEST 128
  # a FAN-S-Hybrid SegFormer on ACDC's validation split (docs/data.md), trained first on Cityscapes by
  #   python -m fan_det.train --config configs/Cityscapes/segformer_fan_small_hybrid.yaml \\
  #       --num-gpus 8 OUTPUT_DIR runs/seg_s
  python -m {PROG} --config configs/Cityscapes/segformer_fan_small_hybrid.yaml \\
      --weights runs/seg_s/model_final.pth --acdc-root /data/acdc --bootstrap 200 --out runs/acdc_fan_s
"""


def build_parser() -> ToolParser:
    parser = ToolParser(prog=f"python -m {PROG}", description=__doc__, epilog=EXAMPLES,
                        formatter_class=HelpFormatter)
    add_detector_arguments(parser)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--acdc-root", metavar="DIR", help="the release: rgb_anon/ and gt/ (docs/data.md)")
    where.add_argument("--tiny", action="store_true",
                       help="the tiny segmentation set restyled per condition (a code path, not a shift)")
    parser.add_argument("--conditions", default="all",
                        help="'all' or comma-separated conditions (fog, night, rain, snow); fewer give a "
                             "result marked partial")
    add_detection_run_arguments(parser, default_out=DEFAULT_OUT)
    add_threads_argument(parser)
    add_launch_arguments(parser)
    add_config_overrides(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    options = AcdcOptions(
        config=args.config, weights=None if args.random_init else args.weights, acdc_root=args.acdc_root,
        tiny=args.tiny, conditions=args.conditions, seed=args.seed, out=args.out, workers=args.workers,
        threads=args.threads, name=args.name, backbone=args.backbone, bootstrap=args.bootstrap,
        opts=tuple(args.opts), processes=args.num_gpus * args.num_machines, command=command_line(PROG))
    try:
        launch_job(args, run_job, *prepare_acdc(options))
    except OptionError as error:
        fail(flag_message(error))


if __name__ == "__main__":
    main()
