"""Segmentation tests run single-threaded (see ``one_torch_thread`` in tests/conftest.py): the models
are tiny, and intra-op threads only contend on the 2-core CI machine."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def single_thread(one_torch_thread):
    yield
