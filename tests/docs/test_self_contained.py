"""The repository stands alone: no file in it points at a folder or machine a user does not have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Spelled in pieces so that this file does not match itself.
FORBIDDEN = re.compile("|".join([
    re.escape("shared" + "/spec"),
    re.escape(".." + "/shared"),
    re.escape("/" + "work/"),
    "/" + r"home/[A-Za-z0-9_.-]+",
    "/" + r"Users/[A-Za-z0-9_.-]+",
    r"(?<![\w.~])/" + "root/",
    r"[A-Za-z]:\\" + r"Users\\",
]))


def repository_files() -> list[Path]:
    """Tracked files plus new files git would add (what a commit can carry), that exist on disk."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return sorted({REPO / name for name in out.decode().split("\0") if name and (REPO / name).is_file()})


def offending_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if b"\0" in data[:8192]:  # binary (images, weights)
        return []
    text = data.decode("utf-8", errors="replace")
    return [f"{path.relative_to(REPO)}:{i}: {line.strip()[:120]}"
            for i, line in enumerate(text.splitlines(), 1) if FORBIDDEN.search(line)]


def test_the_pattern_catches_each_kind_of_outside_reference():
    for line in ("see " + "shared" + "/spec/metrics.md", "`.." + "/shared/x`", "/" + "work/main/x",
                 "/" + "home/alice/data", "/" + "Users/bob/x", "cd /" + "root/x", "C:" + "\\Users\\carol"):
        assert FORBIDDEN.search(line), line
    for line in ("docs/metrics.md", "runs/tiny/model_final.pth", "--dataset imagenet-a=/data/imagenet-a",
                 "$DETECTRON2_DATASETS/coco/val2017", "the network/working set"):
        assert not FORBIDDEN.search(line), line


def test_no_file_refers_outside_the_repository():
    files = repository_files()
    assert len(files) > 50
    hits = [hit for path in files for hit in offending_lines(path)]
    assert not hits, "files refer to things outside the repository:\n" + "\n".join(hits)
