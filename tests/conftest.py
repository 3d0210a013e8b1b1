"""Test-suite set-up: headless plotting, and one torch thread budget per xdist worker."""

import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

# pytest -n N runs N workers on a shared machine: split the cores instead of oversubscribing
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, (os.cpu_count() or 1) // _workers))


@pytest.fixture
def one_torch_thread():
    """Run a test on one torch thread, then restore the worker's thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
