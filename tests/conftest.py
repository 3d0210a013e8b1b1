"""Test-suite set-up: headless plotting, and one torch thread budget per xdist worker."""

import os

import matplotlib
import torch

matplotlib.use("Agg")

# pytest -n N runs N workers on a shared machine: split the cores instead of oversubscribing
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, (os.cpu_count() or 1) // _workers))
