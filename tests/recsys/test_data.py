import numpy as np
import pytest

from recsys.data import Interactions, from_frame, k_core, to_implicit


def _log(users, items, ratings=None, timestamps=None):
    import pandas as pd

    frame = pd.DataFrame({"user_id": users, "item_id": items})
    if ratings is not None:
        frame["rating"] = ratings
    if timestamps is not None:
        frame["timestamp"] = timestamps
    return from_frame(frame)


def test_ids_are_contiguous_and_mapped_back():
    data = _log(["b", "a", "b"], [10, 30, 30])
    assert data.num_users == 2 and data.num_items == 2
    assert data.to_frame()["user_id"].tolist() == ["b", "a", "b"]
    assert data.to_csr().shape == (2, 2)


def test_out_of_range_ids_rejected():
    with pytest.raises(ValueError, match="item ids"):
        Interactions(users=np.array([0]), items=np.array([5]), num_users=1, num_items=2)


def test_implicit_threshold_and_duplicates_are_counted():
    data = _log([1, 1, 1, 2], [1, 1, 2, 2], ratings=[5, 4, 2, 4], timestamps=[3, 1, 2, 4])
    implicit = to_implicit(data, threshold=3)
    assert implicit.stats["below_threshold"] == 1
    assert implicit.stats["duplicates"] == 1
    assert len(implicit) == 2
    # the earliest of the duplicated pair is kept
    assert implicit.timestamps.min() == 1
    with pytest.raises(ValueError, match="needs ratings"):
        to_implicit(_log([1], [1]), threshold=3)


def test_k_core_reaches_fixed_point():
    rng = np.random.default_rng(0)
    data = _log(rng.integers(0, 50, 600), rng.integers(0, 40, 600))
    core = k_core(to_implicit(data), 5, 5)
    assert np.bincount(core.users).min() >= 5
    assert np.bincount(core.items).min() >= 5
    assert core.stats["k_core_rows_removed"] >= 0
