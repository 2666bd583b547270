"""Shared fixture: one report built from all the hand-written result files."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import DETECTION, FIXTURES, OOD

from fan_det.report import write_report


@pytest.fixture(scope="session")
def built_report(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    return write_report([FIXTURES / f for f in DETECTION], [FIXTURES / f for f in OOD], out, command="pytest")
