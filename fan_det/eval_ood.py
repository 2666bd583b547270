"""Evaluate any ImageNet classifier on ImageNet-A, -R, -Sketch, -C and val; writes ``DIR/ood.json``.

Example (the real pretrained EfficientNet-Lite0 on the tiny sets ``fan_det.data.ood_sets`` builds):

    python -m fan_det.eval_ood --model fan_det.zoo.efficientnet_lite0:build \\
        --dataset imagenet-a=.cache/datasets/ood/imagenet-a \\
        --dataset imagenet-r=.cache/datasets/ood/imagenet-r \\
        --dataset imagenet=.cache/datasets/ood/imagenet --workers 2 --out runs/ood/effnet_lite0
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from fan_det.ood.image_folders import DatasetLayoutError
from fan_det.ood.distributed import init_distributed, launch
from fan_det.ood.evaluate import UnreadableImageError
from fan_det.ood.classifier import load_model
from fan_det.ood.pipeline import DATASETS, run_ood
from fan_det.ood.preprocess import resolve_preprocessing

EXAMPLE = """example:
  python -c "from fan_det.data.ood_sets import build_ood_sets; build_ood_sets()"  # the tiny sets
  python -m fan_det.eval_ood --model fan_det.zoo.efficientnet_lite0:build \\
      --dataset imagenet-a=.cache/datasets/ood/imagenet-a \\
      --dataset imagenet-r=.cache/datasets/ood/imagenet-r \\
      --dataset imagenet-sketch=.cache/datasets/ood/imagenet-sketch \\
      --dataset imagenet=.cache/datasets/ood/imagenet \\
      --workers 2 --out runs/ood/effnet_lite0
  python -m fan_det.eval_ood --model fan_small_12_p16_224 --checkpoint fan_small.pth.tar \\
      --dataset imagenet-c=/data/imagenet-c --dataset imagenet=/data/imagenet/val --num-gpus 8 --amp
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fan_det.eval_ood", description=__doc__.splitlines()[0],
                                epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="timm name or pretrained tag (FAN variants included), or package.module:callable "
                        "returning an nn.Module or (nn.Module, timm data config)")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true", help="timm's pretrained weights for the tag")
    weights.add_argument("--checkpoint", metavar="PATH_OR_URL", help="weights to load strictly")
    p.add_argument("--dataset", action="append", default=[], metavar="NAME=PATH", required=True,
                   help=f"ImageFolder root (wnid folders); NAME is one of {', '.join(DATASETS)}; repeatable")
    p.add_argument("--out", default="runs/ood", metavar="DIR", help="writes DIR/ood.json and DIR/cache/")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=4, help="data-loading processes per GPU/process")
    p.add_argument("--amp", action="store_true", help="autocast (float16 on GPU, bfloat16 on CPU)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--num-gpus", type=int, default=1,
                   help="data-parallel processes on this machine (or run under torchrun); with --device cpu "
                        "they are CPU processes (gloo)")
    p.add_argument("--strict", action="store_true", help="stop at an unreadable image instead of skipping it")
    p.add_argument("--seed", type=int, default=0, help="seed of a random initialisation")
    g = p.add_argument_group("preprocessing overrides (default: timm's data config for the model)")
    g.add_argument("--img-size", type=int)
    g.add_argument("--crop-pct", type=float)
    g.add_argument("--crop-mode", choices=["center", "squash", "border"])
    g.add_argument("--interpolation", choices=["bilinear", "bicubic", "nearest", "lanczos"])
    g.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"))
    g.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"))
    return p


def parse_datasets(specs: list[str], parser: argparse.ArgumentParser) -> dict[str, Path]:
    datasets: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not path:
            parser.error(f"--dataset {spec!r}: expected NAME=PATH")
        if name not in DATASETS:
            parser.error(f"--dataset {spec!r}: unknown name {name!r}; expected one of {', '.join(DATASETS)}")
        if name in datasets:
            parser.error(f"--dataset {name} given twice")
        if not Path(path).is_dir():
            parser.error(f"--dataset {spec!r}: {path} is not a directory")
        datasets[name] = Path(path)
    return datasets


def run(args: argparse.Namespace, datasets: dict[str, Path]) -> dict:
    ctx = init_distributed(args.device)
    loaded = load_model(args.model, pretrained=args.pretrained, checkpoint=args.checkpoint, seed=args.seed)
    overrides = {"img_size": args.img_size, "crop_pct": args.crop_pct, "crop_mode": args.crop_mode,
                 "interpolation": args.interpolation, "mean": args.mean, "std": args.std}
    preprocessing = resolve_preprocessing(loaded.model, loaded.data_config, overrides)
    document = run_ood(loaded, datasets, preprocessing, args.out, batch_size=args.batch_size,
                       workers=args.workers, amp=args.amp, strict=args.strict, ctx=ctx,
                       command=" ".join(["python -m fan_det.eval_ood", *sys.argv[1:]]))
    if ctx.is_main:
        print(summary(document, Path(args.out) / "ood.json"))
    return document


def summary(document: dict, path: Path) -> str:
    """One line per dataset with its headline numbers."""
    lines = [f"{document['model']['name']}  {document['preprocessing']}"]
    for name, entry in document["datasets"].items():
        shown = {k: v for k, v in entry["metrics"].items() if isinstance(v, float)}
        nums = "  ".join(f"{k} {v:.2f}" for k, v in shown.items())
        lines.append(f"{name:16s} {nums}  ({entry['num_images']} images, {entry['num_skipped']} skipped, "
                     f"{entry['classes_present']} classes)")
    lines.append(f"wrote {path}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    datasets = parse_datasets(args.dataset, parser)
    if args.num_gpus < 1:
        parser.error("--num-gpus must be at least 1")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no GPU visible (use --device cpu)")
    if args.device.startswith("cuda") and args.num_gpus > torch.cuda.device_count():
        parser.error(f"--num-gpus {args.num_gpus}: only {torch.cuda.device_count()} GPUs visible")
    try:
        if args.num_gpus > 1 and "WORLD_SIZE" not in os.environ:
            launch(run, args.num_gpus, (args, datasets))
        else:
            run(args, datasets)
    except (DatasetLayoutError, UnreadableImageError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
