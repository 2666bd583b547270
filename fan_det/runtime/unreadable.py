"""One policy for an image that cannot be read (missing, truncated, undecodable, a broken link), in every
tool: refused with one line naming the file, or, under ``--skip-bad``, skipped and recorded with its path
in the tool's output."""

from __future__ import annotations

import os

SKIP_BAD = "rerun with --skip-bad to skip it and record it as skipped"


def unreadable_message(path: str | os.PathLike, reason: str, fix: str = SKIP_BAD) -> str:
    """The one wording of the refusal: the file, why, and the fix."""
    return f"cannot read image {path}: {reason} ({fix})"
