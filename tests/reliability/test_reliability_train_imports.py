"""Promises of importing fan_det's detection side: nothing is built, downloaded or written, so ``--help``
works offline on an empty cache."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from reliability_train_helpers import run_train

BLOCK_NETWORK = '''
import socket

def _refuse(*args, **kwargs):
    raise OSError("network blocked by the test")

socket.socket.connect = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
'''


@pytest.fixture
def offline_empty_cache(tmp_path):
    """Env for a subprocess: an empty FAN_DET_CACHE, and a sitecustomize that makes every connect fail."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCK_NETWORK)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cwd").mkdir()
    path = os.pathsep.join(p for p in (str(tmp_path / "site"), os.environ.get("PYTHONPATH")) if p)
    env = {"FAN_DET_CACHE": str(tmp_path / "cache"), "PYTHONPATH": path}
    connect = "import socket; socket.create_connection(('127.0.0.1', 9))"
    probe = subprocess.run([sys.executable, "-c", connect], env={**os.environ, **env}, capture_output=True,
                           text=True)
    assert "network blocked by the test" in probe.stderr  # the blocker is active in subprocesses
    return env, tmp_path


def test_train_help_works_offline_on_an_empty_cache_and_writes_nothing(offline_empty_cache):
    env, tmp = offline_empty_cache
    proc = run_train(["--help"], env=env, cwd=tmp / "cwd")
    assert proc.returncode == 0, proc.stderr
    assert "--allow-partial-weights" in proc.stdout
    assert list((tmp / "cache").iterdir()) == [] and list((tmp / "cwd").iterdir()) == []


def test_train_help_shows_every_default(offline_empty_cache):
    env, tmp = offline_empty_cache
    help_text = " ".join(run_train(["--help"], env=env, cwd=tmp / "cwd").stdout.split())
    for default in ("(default: False)", "(default: 1)", "(default: 0)", "(default: auto)"):
        assert default in help_text, default


def test_importing_fan_det_detection_registers_no_dataset(offline_empty_cache):
    env, tmp = offline_empty_cache
    code = ("import fan_det.detection\nfrom detectron2.data import DatasetCatalog\n"
            "print(sorted(n for n in DatasetCatalog.list() if n.startswith('fan_')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp / "cwd", env={**os.environ, **env},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_registering_the_tiny_sets_names_them_but_builds_and_writes_nothing(offline_empty_cache):
    env, tmp = offline_empty_cache
    code = ("from fan_det.data.register import register_tiny_datasets\nregister_tiny_datasets()\n"
            "from detectron2.data import DatasetCatalog, MetadataCatalog\n"
            "print(sorted(n for n in DatasetCatalog.list() if n.startswith('fan_')))\n"
            "print(MetadataCatalog.get('fan_synth_val').thing_classes)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp / "cwd", env={**os.environ, **env},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names, classes = proc.stdout.strip().splitlines()[-2:]
    assert names == ("['fan_real_photos', 'fan_synth_seg_train', 'fan_synth_seg_val', 'fan_synth_train', "
                     "'fan_synth_val', 'fan_synth_val_mini']")
    assert classes == "['disk', 'square', 'triangle', 'cross']"  # metadata complete before any build
    assert list((tmp / "cache").iterdir()) == [] and list((tmp / "cwd").iterdir()) == []
