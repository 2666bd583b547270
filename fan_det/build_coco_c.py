"""Materialise COCO-C for any COCO-format dataset: ``python -m fan_det.build_coco_c --help``."""

from __future__ import annotations

import argparse
import sys

from fan_det.cli import HelpFormatter, add_threads_argument
from fan_det.corruptions import (
    BuildError,
    Settings,
    build_coco_c,
    load_images,
    merge_shards,
    parse_severities,
    resolve_corruptions,
    verify_coco_c,
)
from fan_det.corruptions.shards import parse_shard, shard_from_env
from fan_det.protocol import PROTOCOLS

EXAMPLE = """examples (the 4-photo tiny set, two corruptions, all severities, 2 processes):
  python -m fan_det.build_coco_c --dataset fan_real_photos --out runs/coco_c/real_photos \\
      --corruptions fog,glass_blur --severities 1-5 --workers 2
  python -m fan_det.build_coco_c --out runs/coco_c/real_photos --verify

in two shards (two machines, or a SLURM array: K is the task index), then merged:
  python -m fan_det.build_coco_c --dataset fan_real_photos --out runs/coco_c/shard0 --corruptions fog \\
      --shard 0/2
  python -m fan_det.build_coco_c --dataset fan_real_photos --out runs/coco_c/shard1 --corruptions fog \\
      --shard 1/2
  python -m fan_det.build_coco_c --out runs/coco_c/merged --merge runs/coco_c/shard0 runs/coco_c/shard1

COCO val2017 (detectron2's coco_2017_val, or a json and its folder):
  python -m fan_det.build_coco_c --dataset /data/coco/annotations/instances_val2017.json \\
      --image-root /data/coco/val2017 --out runs/coco_c/val2017 --workers 16
Interrupt it at any time and rerun the same command to finish; see docs/coco_c.md."""


def samples_arg(text: str) -> int | None:
    if text == "all":
        return None
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be a count >= 0 or 'all'")
    return value


DESCRIPTION = ("Write <out>/<corruption>/<severity>/<file> for every image of a COCO-format dataset: "
               "reproducible, parallel, resumable, shardable, with a manifest of hashes.")


def make_parser(prog: str = "python -m fan_det.build_coco_c", epilog: str = EXAMPLE,
                description: str = DESCRIPTION, dataset: str = "coco_2017_val",
                protocol: str | None = None) -> argparse.ArgumentParser:
    """The builder's options; ``fan_det.build_corrupted`` shares them with its own name and defaults."""
    parser = argparse.ArgumentParser(prog=prog, epilog=epilog, formatter_class=HelpFormatter,
                                     description=description)
    parser.add_argument("--dataset", default=dataset, help="COCO json file or detectron2 dataset name")
    parser.add_argument("--image-root", help="image folder of the json (required with a json file)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--protocol", choices=list(PROTOCOLS), default=protocol,
                        help="build the cells of a corruption protocol (docs/metrics.md); --corruptions and "
                             "--severities, where given, override its lists")
    parser.add_argument("--corruptions", default=None,
                        help="set (benchmark, noise, blur, weather, digital, holdout, all) or "
                             "comma-separated names (default: the --protocol's, else benchmark)")
    parser.add_argument("--severities", default=None,
                        help="range or list in 1..5 (default: the --protocol's, else 1-5)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (1: work in this process)")
    add_threads_argument(parser)
    parser.add_argument("--format", choices=("png", "jpg"), default="png",
                        help="png is lossless; jpg re-encodes, which changes the protocol")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality")
    parser.add_argument("--png-compress-level", type=int, default=1, choices=range(10), metavar="0-9",
                        help="zlib level: speed and size only, pixels are the same")
    parser.add_argument("--seed", type=int, default=0, help="global seed of the corruptions")
    parser.add_argument("--skip-bad", action="store_true",
                        help="go on past unreadable images, listing them at the end, instead of stopping "
                             "(a rerun tries them again)")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="build only the K-th of N cost-balanced shares (K from 0), e.g. a SLURM array "
                             "task; under torchrun RANK/WORLD_SIZE set it (default: the whole set)")
    parser.add_argument("--merge", nargs="+", default=None, metavar="DIR",
                        help="do not build: merge the shards found in these folders into --out")
    parser.add_argument("--verify", action="store_true",
                        help="do not build: hash every file against the manifest and recompute a sample")
    parser.add_argument("--verify-samples", type=samples_arg, default=16, metavar="N|all",
                        help="files recomputed from their sources by --verify")
    parser.add_argument("--verify-seed", type=int, default=None,
                        help="seed of the --verify sample, to replay one (default: from the clock, printed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def parse_args(argv: list[str] | None = None,
               parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    parser = parser or make_parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    chosen = PROTOCOLS[args.protocol] if args.protocol else None
    try:
        args.corruption_list = (resolve_corruptions(args.corruptions) if args.corruptions
                                else chosen.corruptions if chosen else resolve_corruptions("benchmark"))
        args.severity_list = (parse_severities(args.severities) if args.severities
                              else chosen.severities if chosen else parse_severities("1-5"))
        args.settings = Settings.make(args.seed, args.format, args.quality, args.png_compress_level)
        torchrun = shard_from_env()
        args.shard_pair = parse_shard(args.shard) if args.shard else torchrun
    except ValueError as err:
        parser.error(str(err))
    if args.shard and torchrun:
        parser.error("--shard and torchrun (RANK/WORLD_SIZE) both split the work: use one")
    args.torchrun = torchrun is not None and not args.merge and not args.verify
    return args


def verify(args: argparse.Namespace) -> int:
    report = verify_coco_c(args.out, args.verify_samples, sample_seed=args.verify_seed,
                           progress=not args.no_progress)
    shown = 20  # a build stopped early misses thousands: name the first few
    for line in [f"missing {rel}" for rel in report.missing[:shown]] + report.mismatched:
        print(f"FAIL {line}")
    if len(report.missing) > shown:
        print(f"FAIL ... and {len(report.missing) - shown} more missing")
    problems = []
    if report.missing:
        problems.append(f"incomplete: {len(report.missing)} missing (rerun the build to finish it)")
    if report.mismatched:
        problems.append(f"{len(report.mismatched)} differ")
    verdict = "; ".join(problems) or "OK"
    print(f"hashed {report.hashed} files, recomputed {report.checked} (sample seed {report.sample_seed}; "
          f"replay with --verify-seed {report.sample_seed}) in {args.out}: {verdict}")
    return 0 if report.ok else 1


def build(args: argparse.Namespace) -> int:
    from fan_det.runtime.threads import apply_threads, plan_threads

    budget = plan_threads(args.threads, args.workers if args.workers > 1 else 0)
    apply_threads(budget.main)
    entries = load_images(args.dataset, args.image_root, args.settings.format)
    report = build_coco_c(entries, args.out, args.corruption_list, args.severity_list, settings=args.settings,
                          dataset=args.dataset, workers=args.workers, skip_bad=args.skip_bad,
                          progress=not args.no_progress, shard=args.shard_pair, threads=args.threads)
    part = "" if args.shard_pair is None else f" (shard {args.shard_pair[0]}/{args.shard_pair[1]})"
    print(f"wrote {report.written} files, {report.reused} already done, in {args.out}{part}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} unreadable images:")
        for path, reason in sorted(report.skipped.items()):
            print(f"  {path}: {reason}")
    if args.torchrun:
        merge_ranks(args)
    return 0


def merge_ranks(args: argparse.Namespace) -> None:
    """After every rank wrote its shard into --out, rank 0 merges them (torch.distributed on gloo)."""
    from datetime import timedelta

    import torch.distributed as dist

    if not dist.is_initialized():  # joined only now: ranks finish their shares hours apart
        dist.init_process_group("gloo", timeout=timedelta(days=2))
    dist.barrier()
    if dist.get_rank() == 0:
        manifest = merge_shards(args.out, [args.out])
        print(f"merged {dist.get_world_size()} shards: {len(manifest['files'])} files in {args.out}")
    dist.barrier()
    dist.destroy_process_group()


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    args = parse_args(argv, parser)
    try:
        if args.verify:
            return verify(args)
        if args.merge:
            manifest = merge_shards(args.out, args.merge)
            print(f"merged {len(manifest['files'])} files from {len(args.merge)} folder(s) into {args.out}")
            return 0
        return build(args)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
