"""A normal (non-editable) install reports as a checkout does: eval/ ships as package data.

The package is built from a copy of the sources and installed offline into a fresh virtual environment
that sees this environment's dependencies; the report then runs from a folder outside the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from report_fixtures import DETECTION, FIXTURES, OOD

from fan_det.paths import REPO_ROOT

SOURCES = ("pyproject.toml", "setup.py", "README.md", "fan_det", "eval")


def run(cmd: list, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.install
def test_installed_package_writes_the_report_with_the_published_tables(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(REPO_ROOT / name, src / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch, pip, setuptools
    pip = run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "-q",
            src,
        ],
        tmp_path,
    )
    assert pip.returncode == 0, pip.stderr
    shutil.rmtree(src)  # nothing may be read from the sources once installed

    where = run([python, "-c", "import fan_det; print(fan_det.__file__)"], tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(site), where
    report = run(
        [
            python,
            "-m",
            "fan_det.report",
            "--detection",
            *[FIXTURES / f for f in DETECTION],
            "--ood",
            *[FIXTURES / f for f in OOD],
            "--out",
            tmp_path / "out",
        ],
        tmp_path,
    )
    assert report.returncode == 0, report.stderr
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    names = {t["title"] for t in doc["references"]}
    assert {"FAN Hybrid variants, COCO / COCO-C detection", "COCO-C detection baselines"} <= names
    assert doc["detection"]["models"] and doc["ood"]["models"]
    assert doc["effective_robustness"]["reference"]["sha256"]  # timm's results files, shipped as package data
    shifts = {t["id"] for t in doc["effective_robustness"]["tables"]}
    assert shifts >= {"er-imagenet-sketch", "er-imagenet-v2"}
