"""``python -m fan_det.report``: one report from detection robustness and OOD results."""

from __future__ import annotations

import argparse
import shlex
import sys

from fan_det.report.build import write_report
from fan_det.report.inputs import ReportInputError

EXAMPLE = """example:
  python -m fan_det.report --detection runs/fan_t/coco_c runs/r50/coco_c/robustness.json \\
      --ood runs/fan_t/ood runs/effnet/ood --out runs/report
A folder argument means every robustness.json (--detection) or ood.json (--ood) under it."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.report",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--detection",
        nargs="+",
        default=[],
        metavar="DIR_OR_JSON",
        help="robustness.json files (fan_det.robustness/1) or folders holding them",
    )
    parser.add_argument(
        "--ood",
        nargs="+",
        default=[],
        metavar="DIR_OR_JSON",
        help="ood.json files (fan_det.ood/1) or folders holding them",
    )
    parser.add_argument("--out", required=True, help="output folder for report.json, report.md, report.html")
    parser.add_argument("--title", default=None, help="report title")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m fan_det.report " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        paths = write_report(args.detection, args.ood, args.out, command=command, title=args.title)
    except ReportInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for kind, path in paths.items():
        print(f"{kind:>4}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
