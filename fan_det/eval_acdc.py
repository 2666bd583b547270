"""Evaluate a detectron2 semantic-segmentation model on ACDC's adverse conditions (fog, night, rain, snow;
Sakaridis et al. 2021): mIoU per condition and their mean, the segmentation twin of COCO-O.

Each condition's validation split is a registered semantic-segmentation set, evaluated and cached like a
clean cell under ``OUT/conditions/<condition>/<run key>/``. Writes ``OUT/acdc.json`` (docs/schemas.md);
the layout ACDC must have is in docs/data.md. The work is ``fan_det.robustness.acdc.prepare_acdc`` and
``fan_det.robustness.job.run_job``; this module parses the options and launches the job.
"""

from __future__ import annotations

from fan_det import cli
from fan_det.robustness.acdc import DEFAULT_OUT, AcdcOptions, prepare_acdc
from fan_det.robustness.job import launch_or_refuse

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


def build_parser() -> cli.ToolParser:
    parser = cli.ToolParser(prog=f"python -m {PROG}", description=__doc__, epilog=EXAMPLES,
                            formatter_class=cli.HelpFormatter)
    cli.add_detector_arguments(parser)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--acdc-root", metavar="DIR", help="the release: rgb_anon/ and gt/ (docs/data.md)")
    where.add_argument("--tiny", action="store_true",
                       help="the tiny segmentation set restyled per condition (a code path, not a shift)")
    parser.add_argument("--conditions", default="all",
                        help="'all' or comma-separated conditions (fog, night, rain, snow); fewer give a "
                             "result marked partial")
    cli.add_evaluation_arguments(parser, default_out=DEFAULT_OUT, results_file="acdc.json")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    options = AcdcOptions(**cli.eval_fields(args, PROG), acdc_root=args.acdc_root,
                          tiny=args.tiny, conditions=args.conditions)
    launch_or_refuse(args, prepare_acdc, options)


if __name__ == "__main__":
    main()
