"""Thinning a training log to at most K events per user (benchmarks.defaults_density)."""

import numpy as np
import pytest

from benchmarks.defaults_density import cap_per_user, summary
from recsys.synthetic import make_interactions


def test_cap_keeps_at_most_k_events_per_user_and_all_of_smaller_users():
    log = make_interactions(num_users=20, num_items=50, events_per_user=9, seed=4)[0]
    thinned = cap_per_user(log, cap=4, seed=0)
    before, after = np.bincount(log.users, minlength=20), np.bincount(thinned.users, minlength=20)
    assert np.array_equal(after, np.minimum(before, 4))
    pairs = set(zip(log.users.tolist(), log.items.tolist(), strict=True))
    assert set(zip(thinned.users.tolist(), thinned.items.tolist(), strict=True)) <= pairs
    assert (thinned.num_users, thinned.num_items) == (log.num_users, log.num_items)
    assert cap_per_user(log, cap=4, seed=0).items.tolist() == thinned.items.tolist()  # seeded
    assert cap_per_user(log, cap=4, seed=1).items.tolist() != thinned.items.tolist()
    with pytest.raises(ValueError, match="cap"):
        cap_per_user(log, cap=0, seed=0)


def test_summary_averages_seeds_per_setting():
    rows = [
        {"cap": 8, "events_per_user": 8.0, "setting": s, "valid_ndcg@10": v}
        for s, v in (("sparse", 0.09), ("sparse", 0.07), ("dense", 0.05), ("dense", 0.03))
    ]
    assert "| 8 | 8.0 | 0.08 | 0.04 | 2.0 |" in summary(rows)
