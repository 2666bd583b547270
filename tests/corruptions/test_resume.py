"""A build killed with SIGKILL part-way, then rerun, equals a build that was never interrupted."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from fan_det.corruptions import CORRUPTION_SETS, build_coco_c, load_images
from fan_det.corruptions.manifest import MANIFEST
from fan_det.runtime.atomic import TMP_SUFFIX


def finished_files(out):
    return {p.relative_to(out).as_posix(): p for p in out.rglob("*.png")}


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted_build(small_coco, tmp_path):
    json_path, image_root = small_coco
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "fan_det.build_coco_c", "--dataset", str(json_path), "--image-root",
               str(image_root), "--out", str(out), "--corruptions", "benchmark", "--severities", "1-5",
               "--no-progress"]
    process = subprocess.Popen([*command, "--workers", "2"], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while len(finished_files(out)) < 20 and process.poll() is None:
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the CLI and its pool workers: its own process group
        process.wait()
    assert process.returncode == -signal.SIGKILL  # it was killed, not finished
    at_kill = {rel: path.stat().st_ino for rel, path in finished_files(out).items()}
    assert 20 <= len(at_kill) < 300

    rerun = subprocess.run([*command, "--workers", "1"], capture_output=True, text=True, check=True)
    written, reused = map(int, re.search(r"wrote (\d+) files, (\d+) already done", rerun.stdout).groups())
    assert reused >= len(at_kill) and written + reused == 300
    after = finished_files(out)
    assert all(after[rel].stat().st_ino == inode for rel, inode in at_kill.items())  # not redone
    assert not [p for p in out.rglob("*") if p.name.endswith(TMP_SUFFIX)]

    reference = tmp_path / "uninterrupted"
    entries = load_images(str(json_path), image_root, "png")
    build_coco_c(entries, reference, CORRUPTION_SETS["benchmark"], (1, 2, 3, 4, 5), progress=False)
    expected = finished_files(reference)
    assert sorted(after) == sorted(expected)
    assert all(after[rel].read_bytes() == expected[rel].read_bytes() for rel in expected)
    manifests = [json.loads((d / MANIFEST).read_text()) for d in (out, reference)]
    assert manifests[0]["files"] == manifests[1]["files"] and len(manifests[0]["files"]) == 300

