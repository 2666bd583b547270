"""Model tests run single-threaded (see ``one_torch_thread`` in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def single_thread(one_torch_thread):
    yield
