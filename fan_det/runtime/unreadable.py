"""One policy for an image that cannot be read (missing, truncated, undecodable, a broken link), in every
tool: refused with one line naming the file, or, under ``--skip-bad``, skipped and recorded with its path
in the tool's output; ``--strict`` (the default) counts every skip as a refusal."""

from __future__ import annotations

import argparse
import os
import sys

SKIP_BAD = "rerun with --skip-bad to skip it and record it as skipped"
CONTRADICTS = "--strict (stop at an unreadable image, the default) contradicts --skip-bad: drop one"


def unreadable_message(path: str | os.PathLike, reason: str, fix: str = SKIP_BAD) -> str:
    """The one wording of the refusal: the file, why, and the fix."""
    return f"cannot read image {path}: {reason} ({fix})"


def skipping_message(path: str | os.PathLike, reason: str) -> str:
    """The one wording of the warning for an image skipped under ``--skip-bad``."""
    return f"warning: skipping unreadable image {path}: {reason}"


def warn_skipping(path: str | os.PathLike, reason: str) -> None:
    print(skipping_message(path, reason), file=sys.stderr)


def add_unreadable_arguments(parser: argparse.ArgumentParser, output: str) -> None:
    """``--skip-bad`` and ``--strict``, spelled and explained the same in every tool; ``output``: the file
    that records the skipped paths."""
    parser.add_argument("--skip-bad", action="store_true",
                        help=f"skip an unreadable image and record its path in {output} instead of stopping")
    parser.add_argument("--strict", action="store_true",
                        help="stop at an unreadable image (the default): contradicts --skip-bad")


def skip_bad(args: argparse.Namespace) -> bool:
    """Whether to skip unreadable images; ``--strict`` with ``--skip-bad`` ends the tool in one line."""
    from fan_det.cli import fail

    if args.strict and args.skip_bad:
        fail(CONTRADICTS)
    return args.skip_bad
