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
from fan_det.robustness.coco_o import DEFAULT_OUT, CocoOOptions, prepare_coco_o
from fan_det.robustness.job import run_job
from fan_det.robustness.options import OptionError
from fan_det.robustness.scoring import add_scorer_argument
from fan_det.runtime.finite import NonFiniteOutputError
from fan_det.runtime.provenance import command_line
from fan_det.runtime.unreadable import add_unreadable_arguments, skip_bad

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
    parser = ToolParser(prog=f"python -m {PROG}", description=__doc__, epilog=EXAMPLES,
                        formatter_class=HelpFormatter)
    add_detector_arguments(parser)
    parser.add_argument("--coco-o-root", required=True, metavar="DIR",
                        help="COCO-O root: <domain>/val2017/ and <domain>/annotations/instances_val2017.json")
    parser.add_argument("--domains", default="all",
                        help="'all' or comma-separated domains; fewer than six give a partial result")
    add_scorer_argument(parser)
    add_unreadable_arguments(parser, "coco_o.json")
    seed = "seed of a random initialisation and of the bootstrap resamples"
    add_detection_run_arguments(parser, default_out=DEFAULT_OUT, helps={"seed": seed})
    add_threads_argument(parser)
    add_launch_arguments(parser)
    add_config_overrides(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    options = CocoOOptions(
        config=args.config, weights=None if args.random_init else args.weights, coco_o_root=args.coco_o_root,
        domains=args.domains, seed=args.seed, out=args.out, workers=args.workers, threads=args.threads,
        name=args.name, backbone=args.backbone, scorer=args.scorer, bootstrap=args.bootstrap,
        opts=tuple(args.opts), processes=args.num_gpus * args.num_machines, overwrite=args.overwrite,
        skip_bad=skip_bad(args), command=command_line(PROG))
    try:
        launch_job(args, run_job, *prepare_coco_o(options))
    except (OptionError, NonFiniteOutputError) as error:
        fail(flag_message(error))


if __name__ == "__main__":
    main()
