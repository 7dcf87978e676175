"""Pytest setup for the whole suite (tests/ and the doctests in explorer/).

PyTorch's intra-op thread pool spins while it waits for work; with the small tensors of the tests,
on a 2-core machine shared with other processes, two spinning threads made the suite up to 8x
slower. One thread is what the tests need.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402  (after the environment variable, which torch reads at import)

torch.set_num_threads(1)

# -n auto's worker count and the units tests go to workers in (pytest-xdist)
pytest_plugins = ["tools.pytest_workers"]
