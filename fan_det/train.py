"""Train (or evaluate) a FAN detector or segmenter with detectron2, on one CPU or many GPUs and machines.

The shape of detectron2's ``tools/train_net.py``: parse, ``setup`` the config, ``main`` per process,
``launch`` for multi-process / multi-machine DDP (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from detectron2.config import CfgNode
from detectron2.engine import default_setup, launch
from detectron2.utils import comm

from fan_det.cli import HelpFormatter, add_launch_arguments, fail
from fan_det.data.register import register_tiny_datasets
from fan_det.detection import check_datasets
from fan_det.detection.config_file import ConfigError, load_config
from fan_det.detection.trainer import configure_torch
from fan_det.detection.weights import StrictDetectionCheckpointer, WeightsError
from fan_det.models.checkpoint import CheckpointMismatchError
from fan_det.segmentation import LabelError, SlidingWindowError, check_segmentation, trainer_for

EXAMPLES = """examples:
  # a FAN-T-Hybrid RetinaNet on the synthetic shapes set, on this CPU (a few minutes), then evaluate it:
  python -m fan_det.train --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml OUTPUT_DIR runs/tiny
  python -m fan_det.train --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml --eval-only \\
      MODEL.WEIGHTS runs/tiny/model_final.pth OUTPUT_DIR runs/tiny/eval
  # continue an interrupted run from the last checkpoint in its OUTPUT_DIR:
  python -m fan_det.train --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml --resume \\
      OUTPUT_DIR runs/tiny
  # the paper-style COCO run on 8 GPUs, ImageNet FAN weights for the trunk:
  python -m fan_det.train --config configs/fan_retinanet.yaml --num-gpus 8 \\
      MODEL.FAN.WEIGHTS fan_small_12_p4_hybrid.in1k OUTPUT_DIR runs/fan_s
  # SegFormer on FAN-T-Hybrid, the synthetic shapes labelled per pixel (CPU, minutes; docs/segmentation.md):
  python -m fan_det.train --config configs/tiny/segformer_fan_tiny_hybrid_synth.yaml OUTPUT_DIR runs/tiny_seg
  # two machines: run on each with its --machine-rank
  python -m fan_det.train --config CFG --num-gpus 8 --num-machines 2 --machine-rank 0 --dist-url tcp://HOST:PORT
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.train", description=__doc__, epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("--config", "--config-file", dest="config_file", required=True, metavar="FILE",
                        help="detectron2 YAML config (see configs/)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT_DIR's last checkpoint (iteration, optimizer, scheduler)")
    parser.add_argument("--eval-only", action="store_true",
                        help="only evaluate MODEL.WEIGHTS (or, with --resume, OUTPUT_DIR's last checkpoint) "
                             "on DATASETS.TEST")
    parser.add_argument("--allow-partial-weights", action="store_true",
                        help="load the keys of MODEL.WEIGHTS that fit and keep the rest initialised, "
                             "printing the key report, instead of refusing weights that do not fit the model")
    add_launch_arguments(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[],
                        help="config overrides as KEY VALUE pairs, e.g. SOLVER.MAX_ITER 100")
    return parser


def setup(args: argparse.Namespace) -> CfgNode:
    cfg = load_config(args.config_file, args.opts)
    default_setup(cfg, args)
    configure_torch(cfg)
    return cfg


# Refusals of the user's input: one `error:` line, exit status 2, never a traceback.
INPUT_ERRORS = (ConfigError, WeightsError, CheckpointMismatchError, LabelError, SlidingWindowError)


def main(args: argparse.Namespace) -> dict | None:
    """One process's work: train (then evaluate), or evaluate only."""
    try:
        return _run(args)
    except INPUT_ERRORS as error:
        if comm.is_main_process():
            fail(str(error))
        raise SystemExit(2) from None


def _run(args: argparse.Namespace) -> dict | None:
    cfg = setup(args)
    register_tiny_datasets()
    trainer_cls = trainer_for(cfg)
    if args.eval_only:
        model = trainer_cls.build_model(cfg)
        checkpointer = StrictDetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR,
                                                   allow_partial=args.allow_partial_weights)
        checkpointer.resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        return trainer_cls.test(cfg, model)
    trainer = trainer_cls(cfg, allow_partial_weights=args.allow_partial_weights)
    trainer.resume_or_load(resume=args.resume)
    trainer.train()
    return getattr(trainer, "_last_eval_results", None)  # set by the final evaluation


def preflight(args: argparse.Namespace) -> CfgNode:
    """Every check that needs no model, in the launching process: refusals before any worker starts."""
    cfg = load_config(args.config_file, args.opts)
    register_tiny_datasets()
    try:
        check_datasets(cfg)
    except KeyError as error:
        raise ConfigError(f"{error.args[0]}: register it or fix DATASETS in the config") from None
    check_segmentation(cfg)
    weights = cfg.MODEL.WEIGHTS
    if weights and "://" not in weights and not Path(weights).is_file():
        raise WeightsError(f"MODEL.WEIGHTS {weights} does not exist: give an existing checkpoint file "
                           "(or '' to start from scratch)")
    last = Path(cfg.OUTPUT_DIR) / "last_checkpoint"
    if args.eval_only and not weights and not (args.resume and last.is_file()):
        raise WeightsError("--eval-only needs weights: add `MODEL.WEIGHTS <checkpoint>` (or --resume with a "
                           f"checkpoint in OUTPUT_DIR {cfg.OUTPUT_DIR})")
    return cfg


def cli(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.num_machines > 1 and args.dist_url == "auto":
        parser.error("--num-machines > 1 needs --dist-url tcp://HOST:PORT of machine 0")
    try:
        preflight(args)
    except INPUT_ERRORS as error:
        fail(str(error))
    try:
        launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
               dist_url=args.dist_url, args=(args,))
    except torch.multiprocessing.ProcessExitedException as error:
        if error.exit_code == 2:  # a worker refused the input and printed why
            raise SystemExit(2) from None
        raise


if __name__ == "__main__":
    cli()
