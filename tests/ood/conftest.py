"""Fixtures for the OOD tests: one torch thread, the tiny sets."""

from pathlib import Path

import pytest
import torch

from fan_det.data.ood_sets import build_ood_sets


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The CI box has 2 cores shared with other jobs: intra-op threads only contend there."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ood_sets() -> dict[str, Path]:
    return build_ood_sets()
