"""Evaluate any ImageNet classifier on ImageNet-A, -R, -Sketch, -V2, -C and val; writes OUT/ood.json.

Every accuracy comes with its 95% Wilson interval; layout and definitions: docs/ood.md. This tool's
own --workers default is 4 data-loading processes per process.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch
from detectron2.engine import launch
from torch.multiprocessing import ProcessRaisedException

from fan_det.cli import HelpFormatter, add_launch_arguments, add_run_arguments, fail, flag_message
from fan_det.ood.classifier import ModelLoadError, default_name, load_model
from fan_det.ood.distributed import join_torchrun, rank_device, under_torchrun
from fan_det.ood.evaluate import UnreadableImageError
from fan_det.ood.image_folders import DatasetLayoutError
from fan_det.ood.pipeline import DATASETS, EvalSettings, run_ood
from fan_det.ood.preprocess import resolve_preprocessing
from fan_det.protocol import IMAGENET_V2_VARIANTS
from fan_det.results import OODResult, ResultsError
from fan_det.results.folder import OutputConflictError
from fan_det.runtime.provenance import command_line
from fan_det.runtime.unreadable import add_unreadable_arguments, skip_bad

PROG = "fan_det.eval_ood"
DEFAULT_OUT = "runs/ood/<name>"
WORKERS = 4
REFUSALS = (DatasetLayoutError, UnreadableImageError, ModelLoadError, OutputConflictError, ResultsError,
            FileNotFoundError, ValueError)
EXAMPLES = """examples:
  # the tiny sets (real ImageNet photos laid out like the published datasets), then the real
  # pretrained EfficientNet-Lite0 on them; writes runs/ood/efficientnet_lite0/ood.json
  python -c "from fan_det.data.ood_sets import build_ood_sets; build_ood_sets()"
  python -m fan_det.eval_ood --model fan_det.zoo.efficientnet_lite0:build \\
      --dataset imagenet-a=.cache/datasets/ood/imagenet-a \\
      --dataset imagenet-r=.cache/datasets/ood/imagenet-r \\
      --dataset imagenet-v2=.cache/datasets/ood/imagenet-v2 \\
      --dataset imagenet=.cache/datasets/ood/imagenet --workers 2
  # a released FAN checkpoint (the file of timm's fan_small_12_p16_224.in1k) on the real datasets, 8 GPUs
  python -m fan_det.eval_ood --model fan_small_12_p16_224 --checkpoint https://github.com/zhoudaquan/\
fully_attentional_network_ckpt/releases/download/v1.0.0/fan_vit_small.pth.tar \\
      --dataset imagenet-a=/data/imagenet-a --dataset imagenet-c=/data/imagenet-c \\
      --dataset imagenet=/data/imagenet/val --num-gpus 8 --amp
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m {PROG}", description=__doc__, epilog=EXAMPLES,
                                formatter_class=HelpFormatter)
    p.add_argument("--model", required=True,
                   help="timm name or pretrained tag (FAN variants included), or package.module:callable "
                        "returning an nn.Module or (nn.Module, timm data config)")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true", help="timm's pretrained weights for the tag")
    weights.add_argument("--checkpoint", metavar="PATH_OR_URL", help="weights to load strictly")
    p.add_argument("--backbone", default=None,
                   help="backbone name recorded with the results, so the report can put detection and "
                        "classification of one backbone in one row (default: the timm name/tag, or for a "
                        "callable its name)")
    p.add_argument("--dataset", action="append", default=[], metavar="NAME=PATH", required=True,
                   help=f"class-folder root; NAME is one of {', '.join(DATASETS)}; repeatable")
    p.add_argument("--v2-variant", choices=IMAGENET_V2_VARIANTS, default=IMAGENET_V2_VARIANTS[0],
                   help="which ImageNet-V2 test set --dataset imagenet-v2 is (recorded in ood.json)")
    add_run_arguments(p, default_out=DEFAULT_OUT)
    p.set_defaults(workers=WORKERS)
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass per process")
    p.add_argument("--amp", action="store_true", help="autocast (float16 on GPU, bfloat16 on CPU)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cuda (each process takes its own GPU) or cpu")
    add_unreadable_arguments(p, "ood.json")
    add_launch_arguments(p)
    g = p.add_argument_group("preprocessing overrides (default: timm's data config for the model)")
    g.add_argument("--img-size", type=int, help="square input size (default: the model's)")
    g.add_argument("--crop-pct", type=float, help="centre-crop fraction (default: the model's)")
    g.add_argument("--crop-mode", choices=["center", "squash", "border"], help="(default: the model's)")
    g.add_argument("--interpolation", choices=["bilinear", "bicubic", "nearest", "lanczos"],
                   help="(default: the model's)")
    g.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"), help="(default: the model's)")
    g.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"), help="(default: the model's)")
    return p


def parse_datasets(specs: list[str]) -> dict[str, Path]:
    datasets: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not path:
            fail(f"--dataset {spec!r}: expected NAME=PATH")
        if name not in DATASETS:
            fail(f"--dataset {spec!r}: unknown name {name!r}; expected one of {', '.join(DATASETS)}")
        if name in datasets:
            fail(f"--dataset {name} given twice")
        if not Path(path).is_dir():
            fail(f"--dataset {spec!r}: {path} is not a directory")
        datasets[name] = Path(path)
    return datasets


def out_dir(args: argparse.Namespace) -> Path:
    """``--out``, where the default's ``<name>`` is the display name made file-name safe."""
    if args.out != DEFAULT_OUT:
        return Path(args.out)
    return Path("runs/ood") / re.sub(r"[^A-Za-z0-9._-]+", "_", args.name or default_name(args.model))


def run(args: argparse.Namespace, datasets: dict[str, Path]) -> OODResult:
    """One process's share: build the model, resolve the preprocessing, evaluate, print the summary."""
    loaded = load_model(args.model, pretrained=args.pretrained, checkpoint=args.checkpoint, seed=args.seed,
                        name=args.name, backbone=args.backbone)
    overrides = {"img_size": args.img_size, "crop_pct": args.crop_pct, "crop_mode": args.crop_mode,
                 "interpolation": args.interpolation, "mean": args.mean, "std": args.std}
    preprocessing = resolve_preprocessing(loaded.model, loaded.data_config, overrides)
    settings = EvalSettings(batch_size=args.batch_size, workers=args.workers, amp=args.amp,
                            strict=not args.skip_bad, device=str(rank_device(args.device)),
                            v2_variant=args.v2_variant, overwrite=args.overwrite)
    result = run_ood(loaded, datasets, preprocessing, out_dir(args), settings, command_line(PROG))
    if result.path is not None:
        print(summary(result))
    return result


class RankRefusal(Exception):
    """A spawned rank's refusal, already worded with flags: the parent prints its message."""


def run_rank(args: argparse.Namespace, datasets: dict[str, Path]) -> None:
    """``run`` in a process started by detectron2's ``launch``, whose parent sees only the exception's
    text: a refusal crosses as one line naming flags (``--overwrite``), not the library's field names."""
    try:
        run(args, datasets)
    except REFUSALS as e:
        raise RankRefusal(flag_message(e)) from None


def summary(result: OODResult) -> str:
    """One line per dataset with its headline numbers."""
    lines = [f"{result.model_name}  {result.preprocessing}"]
    for name, entry in result.datasets.items():
        shown = {k: v for k, v in entry["metrics"].items() if isinstance(v, float)}
        nums = "  ".join(f"{k} {v:.2f}" for k, v in shown.items())
        lines.append(f"{name:16s} {nums}  ({entry['num_images']} images, {entry['num_skipped']} skipped, "
                     f"{entry['classes_present']} classes)")
    lines.append(f"wrote {result.path}")
    return "\n".join(lines)


def check_arguments(args: argparse.Namespace) -> None:
    for flag, value in (("--num-gpus", args.num_gpus), ("--num-machines", args.num_machines),
                        ("--batch-size", args.batch_size)):
        if value < 1:
            fail(f"{flag} must be at least 1")
    if args.workers < 0:
        fail("--workers must be 0 or more")
    skip_bad(args)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        fail("--device cuda: no GPU visible (use --device cpu)")
    if args.device.startswith("cuda") and args.num_gpus > torch.cuda.device_count():
        fail(f"--num-gpus {args.num_gpus}: only {torch.cuda.device_count()} GPUs visible")
    if out_dir(args).exists() and not out_dir(args).is_dir():
        fail(f"--out {out_dir(args)} is a file; give a folder (ood.json is written inside it)")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    datasets = parse_datasets(args.dataset)
    check_arguments(args)
    try:
        if args.num_gpus * args.num_machines > 1 and not under_torchrun():
            launch(run_rank, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
                   dist_url=args.dist_url, args=(args, datasets))
        else:
            join_torchrun()
            run(args, datasets)
    except REFUSALS as e:
        fail(flag_message(e))
    except ProcessRaisedException as e:  # a spawned rank refused: its last line is the message
        fail(str(e).strip().splitlines()[-1].partition(": ")[2] or str(e))


if __name__ == "__main__":
    main()
