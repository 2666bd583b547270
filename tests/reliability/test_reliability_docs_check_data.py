"""check_data and prepare_imagenet_val on odd input: a verdict or one error line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(module: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"fan_det.{module}", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("odd")
    (root / "file.txt").write_text("not a folder")
    (root / "broken.json").write_text("{not json")
    (root / "list.json").write_text("[1, 2]")
    (root / "empty").mkdir()
    (root / "coco-c").mkdir()
    (root / "coco-c" / "manifest.json").write_text("{truncated")
    return root


def test_odd_folders_and_files_get_verdicts_not_tracebacks(odd):
    result = run("check_data", "--imagenet", str(odd / "file.txt"), "--imagenet-a", str(odd / "empty"),
                 "--imagenet-c", str(odd / "file.txt"), "--coco", str(odd / "empty"),
                 "--coco-annotations", str(odd / "broken.json"), "--coco-c", str(odd / "coco-c"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    out = result.stdout
    assert "imagenet: PROBLEMS" in out and "not a folder" in out
    assert "imagenet-a: PROBLEMS" in out and "empty: no class folders and no images" in out
    assert "imagenet-c: PROBLEMS" in out and "is not a directory" in out
    assert "coco: PROBLEMS" in out and "broken.json unreadable" in out
    assert "coco-c: PROBLEMS" in out and "unreadable" in out
    assert "0 of 5 set(s) OK" in out
    result = run("check_data", "--coco", str(odd / "empty"), "--coco-annotations", str(odd / "list.json"))
    assert result.returncode == 1 and "is not a COCO instances file" in result.stdout


@pytest.mark.parametrize("argv, message", [
    (["--images", "{odd}/file.txt", "--ground-truth", "{odd}/broken.json"], "expected LOC_val_solution.csv"),
    (["--images", "{odd}/empty", "--ground-truth", "{odd}/missing.csv"], "is not a file"),
    (["--images", "{odd}/file.txt", "--ground-truth", "{odd}/ok.csv"], "is not a folder"),
    (["--images", "{odd}/empty", "--ground-truth", "{odd}/ok.csv"], "holds no image files"),
    (["--images", "{odd}/empty", "--ground-truth", "{odd}/bad.csv"], "expected the columns"),
    (["--images", "{odd}/empty", "--ground-truth", "{odd}/devkit.tar.gz"], "not the ILSVRC2012 devkit"),
])
def test_prepare_refuses_with_one_line(odd, argv, message, capsys):
    """In-process: any exception other than the one-line exit would fail the test with its traceback."""
    from fan_det.prepare_imagenet_val import main

    (odd / "ok.csv").write_text("ImageId,PredictionString\nILSVRC2012_val_00000001,n01440764 1 2 3 4\n")
    (odd / "bad.csv").write_text("id,label\n1,n01440764\n")
    (odd / "devkit.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(SystemExit) as exit_:
        main([*[a.format(odd=odd) for a in argv], "--out", str(odd / "out")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and message in lines[0]
    assert not (odd / "out").exists()
