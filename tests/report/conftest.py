"""Shared fixtures: the hand-written result files and one report built from all of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fan_det.report import write_report

FIXTURES = Path(__file__).parent / "fixtures"
DETECTION = ["det_fan.json", "det_baseline.json", "det_partial.json"]
OOD = ["ood_fan.json", "ood_effnet.json"]


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="session")
def built_report(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    return write_report([FIXTURES / f for f in DETECTION], [FIXTURES / f for f in OOD], out, command="pytest")
