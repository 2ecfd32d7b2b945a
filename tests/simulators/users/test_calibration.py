"""Position offsets learned on biased training scores remove the bias on new lists."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.users.calibration import position_offsets


def biased_scores(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 5)) + np.array([1.0, 0.4, 0.0, -0.2, 0.1])  # a first-position pull


def test_offsets_learned_on_training_lists_flatten_new_lists_positions():
    offsets = position_offsets(biased_scores(2000, seed=0))
    fresh = biased_scores(4000, seed=1)
    before = np.bincount(fresh.argmax(1), minlength=5) / len(fresh)
    after = np.bincount((fresh + offsets).argmax(1), minlength=5) / len(fresh)
    assert before[0] > 0.35  # the planted bias is there
    assert np.abs(after - 0.2).max() < 0.03
    assert offsets[0] < offsets[2] and abs(offsets.sum()) < 1e-9


def test_offsets_need_a_table_of_lists():
    with pytest.raises(ValueError, match="scores"):
        position_offsets(np.zeros((3, 5)))
