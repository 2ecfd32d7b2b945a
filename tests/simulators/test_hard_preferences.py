"""Preference data from hard-negative exposures (simulators.hard_preferences) on a tiny rated log."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.data import Interactions
from simulators.hard_preferences import build_hard_preferences, training_anchors
from simulators.users import ItemMeta, hard_exposures
from simulators.users.lm import LMUser


def _log(num_users: int = 12, num_items: int = 40, per_user: int = 12, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(num_users), per_user)
    items = np.concatenate([rng.choice(num_items, per_user, replace=False) for _ in range(num_users)])
    ratings = rng.integers(1, 6, size=len(users)).astype(np.float32)
    times = (8.5e8 + rng.permutation(len(users)) * 1000).astype(np.int64)  # 1996-1997
    return Interactions(
        users, items, num_users, num_items, ratings=ratings, timestamps=times,
        user_ids=np.array([f"u{u}" for u in range(num_users)]),
        item_ids=np.array([str(100 + i) for i in range(num_items)]),
    )  # fmt: skip


def test_anchors_are_liked_events_with_enough_history_at_most_k_per_user():
    log = _log()
    anchors = training_anchors(log, min_history=5, like=4.0, max_per_user=2, seed=1)
    assert anchors.train is log and len(anchors.users) == len(anchors.targets) > 0
    for user, row in zip(anchors.users, anchors.targets, strict=True):
        assert log.users[row] == user and log.ratings[row] >= 4.0
        mine = np.flatnonzero(log.users == user)
        assert (log.timestamps[mine] < log.timestamps[row]).sum() >= 5
    assert np.bincount(anchors.users).max() <= 2
    again = training_anchors(log, min_history=5, like=4.0, max_per_user=2, seed=1)
    assert again.targets.tolist() == anchors.targets.tolist()  # seeded
    every = training_anchors(log, min_history=5, like=4.0, max_per_user=100, seed=1)
    assert len(every.targets) >= len(anchors.targets)
    with pytest.raises(ValueError, match="max_per_user"):
        training_anchors(log, max_per_user=0)


def test_rows_hold_the_simulators_prompt_the_chosen_item_and_a_shown_negative():
    log = _log()
    rng = np.random.default_rng(3)
    meta = ItemMeta(
        years=rng.integers(1950, 1990, size=log.num_items),
        genres=(rng.random((log.num_items, 5)) < 0.4).astype(np.float32),
        popularity=log.item_popularity(),
    )
    anchors = training_anchors(log, min_history=5, max_per_user=2, seed=1)
    collaborative = np.tile(np.arange(log.num_items), (len(anchors.users), 1))
    exposures = hard_exposures(log, anchors, meta, collaborative, n=5, history=5, seed=7)
    texts = {str(i): f"Movie {i} (1980)" for i in log.item_ids}
    personas = {f"u{u}": f"user number {u}" for u in range(log.num_users)}
    data = build_hard_preferences(exposures, texts, personas, history=5, eval_fraction=0.25, seed=2)
    rows = [*data.train, *data.eval]
    assert len(rows) == len(exposures) == data.report["examples"]
    assert not {r["user"] for r in data.train} & {r["user"] for r in data.eval}  # split by user
    simulator = LMUser(torch.nn.Linear(1, 1), None, texts, personas, list_in_prompt=True, history=5)
    for row, exposure in zip(rows, sorted(exposures, key=lambda e: e.user in {r["user"] for r in data.eval}),
                             strict=True):  # fmt: skip
        assert row["prompt"] == simulator.prompt(exposure)
        assert row["chosen"] == " " + texts[exposure.options[exposure.target]]
        shown = {" " + texts[o] for k, o in enumerate(exposure.options) if k != exposure.target}
        assert row["rejected"] in shown
    own = build_hard_preferences(exposures, texts, personas, prompt=lambda e: f"prompt of {e.user}")
    assert [r["prompt"] for r in own.train] == [f"prompt of {r['user']}" for r in own.train]  # given builder
    with pytest.raises(ValueError, match="no exposures"):
        build_hard_preferences([], texts)
