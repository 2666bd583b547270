"""Evaluate a detectron2 detector on COCO-O (natural distribution shift): box AP per domain and the mean.

COCO-O (Mao et al. 2023) holds six domains (sketch, cartoon, painting, weather, handmake, tattoo), each
a COCO-format folder with COCO's 80 categories; pass the release's root, unpacked unchanged. Each
finished domain is saved at once under ``OUT/domains/<domain>/<run key>/``; a rerun with the same
weights, config, images and scorer skips it. Writes ``OUT/coco_o.json`` (schema in docs/schemas.md),
which ``python -m fan_det.report --coco-o`` shows beside mPC and rPC. The work is
``fan_det.robustness.coco_o.prepare_coco_o`` and ``fan_det.robustness.job.run_job``; this module parses
the options and launches the job, as detectron2's tools do.
"""

from __future__ import annotations

import argparse

from fan_det import cli
from fan_det.robustness.coco_o import DEFAULT_OUT, CocoOOptions, prepare_coco_o
from fan_det.robustness.job import launch_or_refuse
from fan_det.robustness.scoring import add_scorer_argument

PROG = "fan_det.eval_coco_o"
EXAMPLES = f"""examples:
  # the tiny COCO-O-shaped set (fan_synth_val_mini restyled per domain) and the tiny FAN RetinaNet,
  # trained first by (docs/detection.md):
  #   python -m fan_det.train --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml OUTPUT_DIR runs/tiny
  python -c "from fan_det.data.coco_o import build_tiny_coco_o_set; print(build_tiny_coco_o_set())"
  python -m {PROG} --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml \\
      --weights runs/tiny/model_final.pth --coco-o-root .cache/datasets/tiny_coco_o \\
      --workers 0 --bootstrap 50 --out runs/coco_o_tiny
  # the released COCO-O with a FAN-S-Hybrid RetinaNet on 8 GPUs, trained first by (docs/detection.md):
  #   python -m fan_det.train --config configs/fan_retinanet.yaml --num-gpus 8 OUTPUT_DIR runs/fan_s
  python -m {PROG} --config configs/fan_retinanet.yaml --weights runs/fan_s/model_final.pth \\
      --coco-o-root /data/coco_o --num-gpus 8 --workers 4 --bootstrap 200 --out runs/coco_o_fan_s
"""


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ToolParser(prog=f"python -m {PROG}", description=__doc__, epilog=EXAMPLES,
                            formatter_class=cli.HelpFormatter)
    cli.add_detector_arguments(parser)
    parser.add_argument("--coco-o-root", required=True, metavar="DIR",
                        help="COCO-O root: <domain>/val2017/ and <domain>/annotations/instances_val2017.json")
    parser.add_argument("--domains", default="all",
                        help="'all' or comma-separated domains; fewer than six give a partial result")
    add_scorer_argument(parser)
    cli.add_evaluation_arguments(parser, default_out=DEFAULT_OUT, results_file="coco_o.json")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    options = CocoOOptions(**cli.eval_fields(args, PROG),
                           coco_o_root=args.coco_o_root, domains=args.domains, scorer=args.scorer)
    launch_or_refuse(args, prepare_coco_o, options)


if __name__ == "__main__":
    main()
