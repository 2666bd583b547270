"""Materialise COCO-C for any COCO-format dataset: ``python -m fan_det.build_coco_c --help``."""

from __future__ import annotations

import argparse
import sys

from fan_det.corruptions import (
    BuildError,
    Settings,
    build_coco_c,
    load_images,
    parse_severities,
    resolve_corruptions,
    verify_coco_c,
)

EXAMPLE = """example (the 4-photo tiny set, two corruptions, all severities, 2 processes):
  python -m fan_det.build_coco_c --dataset fan_real_photos --out .cache/coco_c/real_photos \\
      --corruptions fog,glass_blur --severities 1-5 --workers 2
  python -m fan_det.build_coco_c --out .cache/coco_c/real_photos --verify

COCO val2017 (detectron2's coco_2017_val, or a json and its folder):
  python -m fan_det.build_coco_c --dataset annotations/instances_val2017.json --image-root val2017 \\
      --out coco_c --workers 16
Interrupt it at any time and rerun the same command to finish; see docs/coco_c.md."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.build_coco_c", epilog=EXAMPLE,
        description="Write <out>/<corruption>/<severity>/<file> for every image of a COCO-format dataset: "
                    "reproducible, parallel, resumable, with a manifest of hashes.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="coco_2017_val",
                        help="COCO json file or detectron2 dataset name (default: %(default)s)")
    parser.add_argument("--image-root", help="image folder of the json (required with a json file)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--corruptions", default="benchmark",
                        help="set (benchmark, noise, blur, weather, digital, holdout, all) or "
                             "comma-separated names (default: %(default)s)")
    parser.add_argument("--severities", default="1-5", help="range or list in 1..5 (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default: %(default)s)")
    parser.add_argument("--format", choices=("png", "jpg"), default="png",
                        help="png is lossless (default); jpg re-encodes, which changes the protocol")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (default: %(default)s)")
    parser.add_argument("--png-compress-level", type=int, default=1, choices=range(10), metavar="0-9",
                        help="zlib level: speed only, pixels are the same (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="global seed (default: %(default)s)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="go on past unreadable images, listing them at the end, instead of stopping")
    parser.add_argument("--verify", action="store_true",
                        help="do not build: check the folder's files and recompute a sample")
    parser.add_argument("--verify-samples", type=int, default=16, help="files recomputed by --verify")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    try:
        args.corruption_list = resolve_corruptions(args.corruptions)
        args.severity_list = parse_severities(args.severities)
        args.settings = Settings.make(args.seed, args.format, args.quality, args.png_compress_level)
    except ValueError as err:
        parser.error(str(err))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.verify:
            report = verify_coco_c(args.out, args.verify_samples)
            for line in report.missing + report.mismatched:
                print(f"FAIL {line}")
            verdict = "OK" if report.ok else f"{len(report.missing)} missing, {len(report.mismatched)} differ"
            print(f"verified {report.checked} recomputed files in {args.out}: {verdict}")
            return 0 if report.ok else 1
        entries = load_images(args.dataset, args.image_root, args.settings.format)
        report = build_coco_c(entries, args.out, args.corruption_list, args.severity_list,
                              settings=args.settings, dataset=args.dataset, workers=args.workers,
                              skip_bad=args.skip_bad, progress=not args.no_progress)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {report.written} files, {report.reused} already done, in {args.out}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} unreadable images:")
        for path, reason in sorted(report.skipped.items()):
            print(f"  {path}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
