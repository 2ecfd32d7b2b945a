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


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    """A model folder with the tiny random llama and character tokenizer of
    ``tests/simulators/tiny_models.py`` (saved once per session; copy it before changing it)."""
    import importlib.util

    source = Path(__file__).parent / "simulators" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("tiny_models", source)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = tiny.char_tokenizer()
    tiny.tiny_llama(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
