"""``python -m fan_det.report``: one report from detection robustness, COCO-O and OOD results."""

from __future__ import annotations

import argparse
import shlex
import sys

from fan_det.cli import HelpFormatter
from fan_det.report.build import write_report
from fan_det.report.inputs import FLAGS, READERS, ReportInputError

EXAMPLE = """example (the demo writes these results; eval_coco_c and eval_ood write yours):
  python -m fan_det.demo --out runs/demo
  python -m fan_det.report --detection runs/demo/coco_c \\
      --ood runs/demo/ood_fan runs/demo/ood_effnet/ood.json --out runs/report
A folder argument means every robustness.json (--detection), coco_o.json (--coco-o) or ood.json (--ood)
under it."""
KINDS = {"robustness": "detection", "coco_o": "coco_o", "ood": "ood"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.report", description=__doc__, epilog=EXAMPLE, formatter_class=HelpFormatter
    )
    for kind, dest in KINDS.items():
        reader = READERS[kind]
        parser.add_argument(FLAGS[kind], dest=dest, nargs="+", default=[], metavar="DIR_OR_JSON",
                            help=f"{reader.FILE_NAME} files ({reader.schema()}) or folders holding them")
    parser.add_argument("--out", required=True, help="output folder for report.json, report.md, report.html")
    parser.add_argument("--title", default="fan_det robustness report", help="report title")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m fan_det.report " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        paths = write_report(args.detection, args.ood, args.out, command=command, title=args.title,
                             coco_o=args.coco_o)
    except ReportInputError as exc:
        print(f"error: {exc}", file=sys.stderr)  # fan_det.cli.fail, returned: tests call main() in-process
        return 2
    for kind, path in paths.items():
        print(f"{kind:>4}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
