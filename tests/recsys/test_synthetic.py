"""The genre-taste generator behind the creator worlds: seeded, distinct items, plays follow taste."""

import numpy as np

from recsys.synthetic import genre_interactions


def test_genre_interactions_are_seeded_distinct_per_user_and_follow_taste():
    log, taste, genres = genre_interactions(200, 60, 4, 6, sharpness=8.0, seed=3)
    again, _, _ = genre_interactions(200, 60, 4, 6, sharpness=8.0, seed=3)
    assert np.array_equal(log.items, again.items) and len(log) == 200 * 6
    assert taste.shape == (200, 4) and genres.shape == (60, 4) and np.allclose(taste.sum(1), 1)
    for u in range(5):
        assert len(set(log.items[log.users == u])) == 6  # distinct items per user
    played = (taste[log.users] * genres[log.items]).sum(1).mean()
    rng = np.random.default_rng(0)
    random = (taste[log.users] * genres[rng.integers(60, size=len(log))]).sum(1).mean()
    assert played > random + 0.05  # users play items of their genres
