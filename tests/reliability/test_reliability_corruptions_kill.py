"""Killing the builder's main process stops its worker processes at once: no orphan goes on writing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reliability_corruptions_helpers import make_coco


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has stopped; only its parent's reaping is left


def pngs(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*.png")}


def test_sigkill_of_the_main_process_stops_its_workers(tmp_path):
    json_path, images = make_coco(tmp_path / "src", count=4, size=(160, 200))
    out = tmp_path / "coco_c"
    command = [sys.executable, "-m", "fan_det.build_coco_c", "--dataset", str(json_path), "--image-root",
               str(images), "--out", str(out), "--corruptions", "benchmark", "--severities", "1-5",
               "--workers", "2", "--no-progress"]  # one task = one image x 75 cells: many files each
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    workers = []
    try:
        while len(pngs(out)) < 3 and process.poll() is None:
            time.sleep(0.01)
        workers = [pid for pid in children(process.pid) if alive(pid)]
        assert len(workers) >= 2
        process.send_signal(signal.SIGKILL)  # the main process only, not its group
        process.wait()
        at_kill = pngs(out)
        deadline = time.monotonic() + 120  # only so that a regression fails instead of hanging
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers)
        # each worker can at most finish the rename it was in; without the fix they finish their image
        assert len(pngs(out) - at_kill) <= len(workers)
        assert len(pngs(out)) < 4 * 75
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
