"""Keeping a share of a split's users (benchmarks.defaults_logsize)."""

import numpy as np
import pytest

from benchmarks.defaults_logsize import keep_users, settings, summary
from recsys.splits import random_split
from recsys.synthetic import make_interactions


def test_keep_users_keeps_all_three_parts_of_the_users_drawn_and_nothing_else():
    split = random_split(
        make_interactions(num_users=40, num_items=30, events_per_user=10, seed=4)[0], (0.8, 0.1, 0.1), seed=4
    )
    kept = keep_users(split, 0.25, seed=0)
    users = set(np.unique(kept.train.users).tolist())
    assert len(users) == 10
    for before, after in ((split.train, kept.train), (split.valid, kept.valid), (split.test, kept.test)):
        mask = np.isin(before.users, list(users))
        assert after.users.tolist() == before.users[mask].tolist()
        assert after.items.tolist() == before.items[mask].tolist()
        assert (after.num_users, after.num_items) == (before.num_users, before.num_items)
    assert kept.protocol["users_kept"] == 0.25
    assert keep_users(split, 0.25, seed=0).train.users.tolist() == kept.train.users.tolist()  # seeded
    assert set(np.unique(keep_users(split, 0.25, seed=1).train.users).tolist()) != users
    with pytest.raises(ValueError, match="fraction"):
        keep_users(split, 0.0)


def test_summary_averages_seeds_per_setting_and_names_the_models_settings():
    rows = [
        {
            "fraction": 0.5,
            "train_events": 100,
            "events_per_row": 5.0,
            "events_per_item": 9.0,
            "setting": s,
            "valid_ndcg@10": v,
        }
        for s, v in (("small", 0.1), ("small", 0.3), ("large", 0.3), ("large", 0.5))
    ]
    assert "| 0.5 | 100 | 5.0 | 9.0 | 0.2 | 0.4 | 2.0 |" in summary(rows, "bpr")
    assert [name for name, _ in settings("cml")] == ["dense", "large"]
    with pytest.raises(ValueError, match="bpr or cml"):
        settings("lightgcn")
