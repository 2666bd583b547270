"""Fixtures for the OOD tests: one torch thread, the tiny sets."""

from pathlib import Path

import pytest

from fan_det.data.ood_sets import build_ood_sets


@pytest.fixture(autouse=True, scope="module")
def single_thread(one_torch_thread):
    """OOD tests run single-threaded (see ``one_torch_thread`` in tests/conftest.py)."""
    yield


@pytest.fixture(scope="session")
def ood_sets() -> dict[str, Path]:
    return build_ood_sets()
