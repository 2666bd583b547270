"""Train (or evaluate) a FAN detector with detectron2, on one CPU or many GPUs and machines.

The shape of detectron2's ``tools/train_net.py``: parse, ``setup`` the config, ``main`` per process,
``launch`` for multi-process / multi-machine DDP (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import CfgNode, get_cfg
from detectron2.engine import default_setup, launch

from fan_det.detection import Trainer, add_fan_config, check_datasets

EXAMPLES = """examples:
  # a FAN-T-Hybrid RetinaNet on the synthetic shapes set, on this CPU (about 2 minutes):
  python -m fan_det.train --config configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml OUTPUT_DIR runs/tiny
  # the paper-style COCO run on 8 GPUs, ImageNet FAN weights for the trunk:
  python -m fan_det.train --config configs/fan_retinanet.yaml --num-gpus 8 \\
      MODEL.FAN.WEIGHTS /path/to/fan_hybrid_small.pth.tar
  # two machines: run on each with its --machine-rank
  python -m fan_det.train --config CFG --num-gpus 8 --num-machines 2 --machine-rank 0 --dist-url tcp://HOST:PORT
  # resume the last checkpoint in OUTPUT_DIR / evaluate trained weights
  python -m fan_det.train --config CFG --resume
  python -m fan_det.train --config CFG --eval-only MODEL.WEIGHTS runs/tiny/model_final.pth
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.train", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", "--config-file", dest="config_file", required=True, metavar="FILE",
                        help="detectron2 YAML config (see configs/)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT_DIR's last checkpoint (iteration, optimizer, scheduler)")
    parser.add_argument("--eval-only", action="store_true",
                        help="only evaluate MODEL.WEIGHTS on DATASETS.TEST")
    parser.add_argument("--num-gpus", type=int, default=1,
                        help="processes per machine: one per GPU (CPU processes when there is no GPU)")
    parser.add_argument("--num-machines", type=int, default=1)
    parser.add_argument("--machine-rank", type=int, default=0, help="this machine's rank, 0..num-machines-1")
    parser.add_argument("--dist-url", default="auto",
                        help="tcp://HOST:PORT of machine 0 (required with several machines); "
                             "'auto' picks a free local port")
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=None,
                        help="config overrides as KEY VALUE pairs, e.g. SOLVER.MAX_ITER 100")
    return parser


def load_config(config_file: str, opts: Sequence[str] = ()) -> CfgNode:
    """detectron2 defaults + FAN keys + the YAML file + KEY VALUE overrides (typos are errors)."""
    if not Path(config_file).is_file():
        raise FileNotFoundError(f"no config file at {config_file}")
    cfg = add_fan_config(get_cfg())
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"{config_file} asks for MODEL.DEVICE={cfg.MODEL.DEVICE} but there is no GPU: "
                           "add `MODEL.DEVICE cpu` to the command")
    cfg.freeze()
    return cfg


def setup(args: argparse.Namespace) -> CfgNode:
    cfg = load_config(args.config_file, args.opts or ())
    default_setup(cfg, args)
    check_datasets(cfg)
    return cfg


def main(args: argparse.Namespace) -> dict | None:
    """One process's work: train (then evaluate), or evaluate only."""
    cfg = setup(args)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        checkpointer = DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR)
        checkpointer.resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        return Trainer.test(cfg, model)
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    trainer.train()
    return getattr(trainer, "_last_eval_results", None)  # set by the final evaluation


def cli(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not Path(args.config_file).is_file():
        parser.error(f"no config file at {args.config_file}")
    if args.num_machines > 1 and args.dist_url == "auto":
        parser.error("--num-machines > 1 needs --dist-url tcp://HOST:PORT of machine 0")
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))


if __name__ == "__main__":
    cli()
