"""The cache lives in the user's cache folder unless FAN_DET_CACHE says otherwise; make keeps it in the
checkout."""

from __future__ import annotations

import os
import subprocess

from fan_det.paths import REPO_ROOT, cache_root, datasets_dir, raw_dir


def test_fan_det_cache_wins_over_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("FAN_DET_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "mine"
    assert raw_dir() == tmp_path / "mine" / "raw" and datasets_dir() == tmp_path / "mine" / "datasets"


def test_default_is_the_user_cache_folder_never_beside_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv("FAN_DET_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "fan_det"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "fan_det"
    assert REPO_ROOT not in cache_root().parents


def test_make_targets_keep_the_cache_in_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("FAN_DET_CACHE", "MAKEFLAGS", "MAKELEVEL")}
    show = ["make", "-s", "--no-print-directory", "--eval=show-cache: ; @echo $$FAN_DET_CACHE", "show-cache"]
    done = subprocess.run(show, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(REPO_ROOT / ".cache")
    mine = {**env, "FAN_DET_CACHE": str(tmp_path)}  # the caller's choice wins
    done = subprocess.run(show, cwd=REPO_ROOT, env=mine, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(tmp_path)
