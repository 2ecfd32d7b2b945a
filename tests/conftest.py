"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignrec.settings import data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data sets folder; the test is skipped when it is absent."""
    root = data_dir()
    if root is None:
        pytest.skip("real data not available (set ALIGNREC_DATA_DIR)")
    return root
