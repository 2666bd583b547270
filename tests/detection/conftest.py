"""The detection tests train and evaluate on the tiny sets: register their names (importing
``fan_det.detection`` registers no dataset)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def tiny_datasets_registered():
    from fan_det.data.register import register_tiny_datasets

    register_tiny_datasets()
