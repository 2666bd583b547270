"""One COCO-C folder, one set of settings: a build with other settings than any manifest in the folder
(whole or shard) is refused before, during or after another; an evaluation refuses files that are not
the manifest's; a full disk or a file-size limit stops a build with one error line and no temporary
file, and the rerun resumes to files identical to a clean build's."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading

import pytest
from reliability_corruptions_helpers import build_args, make_coco

import fan_det.corruptions.builder as builder
import fan_det.runtime.atomic as atomic
from fan_det.build_coco_c import main
from fan_det.corruptions import BuildError, read_manifest, verify_coco_c
from fan_det.corruptions.builder import Settings, build_coco_c, load_images
from fan_det.protocol import CLEAN_CELL, Cell
from fan_det.robustness import source as sources
from fan_det.robustness.options import OptionError

CELLS = (["gaussian_noise", "contrast"], [1, 3])  # noise: its pixels depend on the seed


def temporary_files(out) -> list[str]:
    return sorted(p.name for p in out.rglob(f"*{atomic.TMP_SUFFIX}"))


def test_a_writer_with_other_settings_during_a_build_is_refused(tmp_path, monkeypatch):
    """The second build starts after the first checked the folder but before it wrote its manifest (the
    window in which both used to pass); it must wait for the first's claim and then be refused."""
    json_path, images = make_coco(tmp_path / "src")
    entries = load_images(str(json_path), images, "png")
    out = tmp_path / "coco_c"
    real, second = builder._reconcile_with_disk, {}

    def other_build():
        try:
            build_coco_c(entries, out, *CELLS, settings=Settings.make(seed=1), progress=False)
            second["outcome"] = "built"
        except BuildError as error:
            second["outcome"] = str(error)

    def reconcile(*args):
        if "thread" not in second:  # the first build only
            second["thread"] = threading.Thread(target=other_build)
            second["thread"].start()
            second["thread"].join(timeout=3)  # it must not get past the folder's check meanwhile
        return real(*args)

    monkeypatch.setattr(builder, "_reconcile_with_disk", reconcile)
    build_coco_c(entries, out, *CELLS, settings=Settings.make(seed=0), progress=False)
    second["thread"].join()
    assert "seed 0 there, 1 now" in second["outcome"]
    assert read_manifest(out)["settings"]["seed"] == 0
    report = verify_coco_c(out, samples=None)  # every file recomputed with seed 0: none of seed 1
    assert report.ok and report.checked == 16


@pytest.mark.parametrize("first, second", [(["--shard", "0/2"], ["--seed", "1"]),
                                           (["--seed", "1"], ["--shard", "1/2"]),
                                           (["--shard", "0/2", "--seed", "1"], ["--shard", "1/2"])])
def test_a_writer_with_other_settings_than_any_manifest_in_the_folder_is_refused(tmp_path, capsys, first,
                                                                                  second):
    json_path, images = make_coco(tmp_path / "src")
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out, *first)) == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    capsys.readouterr()
    assert main(build_args(json_path, images, out, *second)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "seed" in err[0] and "--out" in err[0]
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # nothing written


def test_an_evaluation_refuses_files_another_build_left_in_the_folder(tmp_path):
    json_path, images = make_coco(tmp_path / "src")
    out, other = tmp_path / "coco_c", tmp_path / "other"
    noise = ("--corruptions", "gaussian_noise,contrast")
    assert main(build_args(json_path, images, out, *noise)) == 0
    assert main(build_args(json_path, images, other, *noise, "--seed", "1")) == 0
    shutil.copy(other / "gaussian_noise" / "3" / "im002.png", out / "gaussian_noise" / "3" / "im002.png")
    cells = [CLEAN_CELL, Cell("contrast", 1), Cell("gaussian_noise", 3)]
    differ = r"1 files differ from its manifest.json \(\S*/gaussian_noise/3/im0"
    with pytest.raises(OptionError, match=differ):
        sources.materialised(out, cells, None, tmp_path / "memo")
    assert sources.materialised(out, cells[:2], None, tmp_path / "memo").seed == 0  # other cells are intact


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # above the manifest, below one PNG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing


def test_a_file_size_limit_is_one_error_line_and_the_rerun_resumes(tmp_path):
    json_path, images = make_coco(tmp_path / "src")
    out = tmp_path / "coco_c"
    command = [sys.executable, "-m", "fan_det.build_coco_c", *build_args(json_path, images, out)]
    stopped = subprocess.run(command, capture_output=True, text=True, preexec_fn=_limit_file_size,
                             env=os.environ, timeout=300)
    assert stopped.returncode == 2
    err = stopped.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write ") and "File too large" in err[0]
    assert "Traceback" not in stopped.stderr and temporary_files(out) == []
    assert not list(out.rglob("*.png"))  # no partial file under a final name
    resumed = subprocess.run(command, capture_output=True, text=True, env=os.environ, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    report = verify_coco_c(out, samples=None)  # every file recomputed and compared pixel for pixel
    assert report.ok and report.checked == 16


def test_a_full_disk_is_one_error_line_without_temporary_files(tmp_path, monkeypatch, capsys):
    json_path, images = make_coco(tmp_path / "src")
    out = tmp_path / "coco_c"
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith(".png"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    assert main(build_args(json_path, images, out)) == 2
    monkeypatch.undo()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write ") and "No space left on device" in err[0]
    assert ".png" in err[0] and temporary_files(out) == []
    assert main(build_args(json_path, images, out)) == 0
    assert verify_coco_c(out, samples=0).ok
