"""Model tests run single-threaded: the CI machine has 2 cores shared with other jobs, where torch's
thread pool oversubscribes and slows every forward pass."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
