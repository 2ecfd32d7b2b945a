"""A tiny A/B test on planted click probabilities (no training): a random arm against the planted
best items, shared by the report, tracking and config tests."""

from __future__ import annotations

import numpy as np

from simulators.abtest.environment import ClickModel, run_abtest


class TopPolicy:
    """The planted best items first (or a seeded random order), never an excluded one."""

    def __init__(self, scores: np.ndarray, random: bool) -> None:
        self.scores, self.random = scores, random

    def slates(self, users, k, exclude):
        rng = np.random.default_rng(0)
        out = []
        for u, seen in zip(users, exclude, strict=True):
            s = rng.random(self.scores.shape[1]) if self.random else self.scores[u].copy()
            s[seen] = -np.inf
            out.append(np.argsort(-s)[:k])
        return np.array(out)


def simulate(policies: tuple[bool, bool], rounds: int = 6, users: int = 200, extras: bool = False):
    """Arms "random" and "best"; `policies[a]` True gives arm a the random order. ``extras``: also
    record intra-list diversity (random 4-d item features) and star ratings (1-5, from random pairs)."""
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(users, 60))
    arms = [TopPolicy(scores, random) for random in policies]
    clicks = ClickModel.calibrated(scores, base_rate=0.1)
    options = {"rounds": rounds, "k": 5, "patience": 3}
    if extras:
        pairs = rng.integers(60, size=500), rng.integers(1, 6, size=500)
        clicks.fit_ratings(rng.integers(users, size=500), *pairs)
        options["item_features"] = rng.normal(size=(60, 4))
    ids = [f"u{u}" for u in range(users)]
    return run_abtest(arms, ["random", "best"], clicks, np.arange(users), ids, 60, **options)
