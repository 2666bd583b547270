"""``python -m fan_det.report``: one report from the results of every registered section (OOD
classification, detection robustness, COCO-O)."""

from __future__ import annotations

import argparse
import shlex
import sys

from fan_det.cli import HelpFormatter
from fan_det.report import registry
from fan_det.report.build import write_report
from fan_det.report.inputs import ReportInputError
from fan_det.results import KINDS

EXAMPLE = """example (the demo writes these results; eval_coco_c and eval_ood write yours):
  python -m fan_det.demo --out runs/demo
  python -m fan_det.report --detection runs/demo/coco_c \\
      --ood runs/demo/ood_fan runs/demo/ood_effnet/ood.json --out runs/report"""


def build_parser() -> argparse.ArgumentParser:
    folders = ", ".join(f"{KINDS[s.kind].FILE_NAME} ({s.flag})" for s in registry.SECTIONS)
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.report", description=__doc__, formatter_class=HelpFormatter,
        epilog=f"{EXAMPLE}\nA folder argument means every {folders} under it.")
    for section in registry.SECTIONS:
        reader = KINDS[section.kind]
        parser.add_argument(section.flag, dest=section.key, nargs="+", default=[], metavar="DIR_OR_JSON",
                            help=f"{reader.FILE_NAME} files ({reader.schema()}) or folders holding them")
    parser.add_argument("--out", required=True, help="output folder for report.json, report.md, report.html")
    parser.add_argument("--title", default="fan_det robustness report", help="report title")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m fan_det.report " + shlex.join(sys.argv[1:] if argv is None else argv)
    inputs = {s.key: getattr(args, s.key) for s in registry.SECTIONS}
    try:
        paths = write_report(inputs.pop("detection", []), inputs.pop("ood", []), args.out, command=command,
                             title=args.title, **inputs)
    except ReportInputError as exc:
        print(f"error: {exc}", file=sys.stderr)  # fan_det.cli.fail, returned: tests call main() in-process
        return 2
    for kind, path in paths.items():
        print(f"{kind:>4}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
