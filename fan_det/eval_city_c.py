"""Evaluate a detectron2 semantic-segmentation model on clean and corrupted Cityscapes (Cityscapes-C) or
any registered semantic-segmentation set: clean mIoU (P), the protocol's mean mIoU under corruption (mPC)
and retention (rPC, %).

Works for the FAN SegFormer configs and for any detectron2 semantic-segmentation config (model-zoo paths
too). Each finished cell (its mIoU, per-class IoU and every image's confusion matrix) is saved at once
under ``OUT/cells/<run key>/``; a rerun with the same weights, config, dataset and images skips finished
cells. Writes ``OUT/segmentation.json`` (docs/schemas.md); docs/segmentation_robustness.md explains the
protocols and options. The work is ``fan_det.robustness.city_c.prepare_city_c`` and
``fan_det.robustness.job.run_job``; this module parses the options and launches the job.
"""

from __future__ import annotations

from fan_det.cli import (
    HelpFormatter,
    ToolParser,
    add_detector_arguments,
    add_evaluation_arguments,
    eval_fields,
)
from fan_det.protocol import PROTOCOLS
from fan_det.robustness.city_c import (
    DEFAULT_DATASET,
    DEFAULT_OUT,
    DEFAULT_PROTOCOL,
    CityCOptions,
    prepare_city_c,
)
from fan_det.robustness.job import launch_or_refuse

PROG = "fan_det.eval_city_c"
EXAMPLES = f"""examples:
  # detectron2's semantic FPN, randomly initialised, two corruptions on the tiny segmentation set
  python -m {PROG} --config Misc/semantic_R_50_FPN_1x.yaml --random-init \\
      --dataset fan_synth_seg_val --corruptions fog,gaussian_noise --allow-partial --workers 0 \\
      --out runs/city_c_demo MODEL.SEM_SEG_HEAD.NUM_CLASSES 5 INPUT.MIN_SIZE_TEST 128
  # from a materialised copy (python -m fan_det.build_corrupted, docs/coco_c.md)
  python -m fan_det.build_corrupted --dataset fan_synth_seg_val --corruptions fog \\
      --out runs/city_c/synth_fog
  python -m {PROG} --config Misc/semantic_R_50_FPN_1x.yaml --random-init \\
      --dataset fan_synth_seg_val --corruptions fog --allow-partial --city-c-root runs/city_c/synth_fog \\
      --workers 0 --out runs/city_c_stored MODEL.SEM_SEG_HEAD.NUM_CLASSES 5 INPUT.MIN_SIZE_TEST 128
  # a FAN-S-Hybrid SegFormer on Cityscapes-C as the FAN authors evaluate it, on 8 GPUs, trained first by
  #   python -m fan_det.train --config configs/Cityscapes/segformer_fan_small_hybrid.yaml \\
  #       --num-gpus 8 OUTPUT_DIR runs/seg_s
  python -m {PROG} --config configs/Cityscapes/segformer_fan_small_hybrid.yaml \\
      --weights runs/seg_s/model_final.pth --protocol fan-city-c --num-gpus 8 --workers 4 \\
      --bootstrap 200 --out runs/city_c_fan_s
"""
FLAGS = {"coco_c_root": "--city-c-root"}  # the image sources' field for the materialised folder


def build_parser() -> ToolParser:
    parser = ToolParser(prog=f"python -m {PROG}", description=__doc__, epilog=EXAMPLES,
                        formatter_class=HelpFormatter)
    add_detector_arguments(parser)
    parser.add_argument("--dataset", default=DEFAULT_DATASET,
                        help="registered detectron2 semantic-segmentation set (its stuff_classes are "
                             "scored)")
    parser.add_argument("--protocol", default=DEFAULT_PROTOCOL, choices=list(PROTOCOLS),
                        help="the corruption protocol: its cells and how they are averaged (docs/metrics.md)")
    parser.add_argument("--corruptions", default=None,
                        help="some of the protocol's corruptions (a set or comma-separated names); "
                             "None: all of them")
    parser.add_argument("--severities", default=None,
                        help="some of the protocol's severities, e.g. 1,3; None: all of them")
    parser.add_argument("--city-c-root", default=None, metavar="DIR",
                        help="materialised copy (python -m fan_det.build_corrupted); None: corrupt on the "
                             "fly")
    parser.add_argument("--allow-partial", action="store_true",
                        help="accept fewer cells than the protocol's; the summary is marked partial and "
                             "names the missing cells")
    seed = ("corruption seed and random-init seed; None: 0 on the fly, and the seed that built --city-c-root "
            "(another value is refused)")
    add_evaluation_arguments(parser, default_out=DEFAULT_OUT, results_file="segmentation.json",
                             helps={"seed": seed})
    parser.set_defaults(seed=None)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    options = CityCOptions(**eval_fields(args, PROG), dataset=args.dataset,
                           protocol=args.protocol, corruptions=args.corruptions, severities=args.severities,
                           city_c_root=args.city_c_root, allow_partial=args.allow_partial)
    launch_or_refuse(args, prepare_city_c, options, FLAGS)


if __name__ == "__main__":
    main()
