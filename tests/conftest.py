"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alignrec.settings import data_dir

# The test run is an entry point: it sets what the CLI sets (models load offline from packages)
# and one torch thread (the tests' models are tiny; extra threads only contend on 2 shared cores).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data sets folder; the test is skipped when it is absent."""
    root = data_dir()
    if root is None:
        pytest.skip("real data not available (set ALIGNREC_DATA_DIR)")
    return root
