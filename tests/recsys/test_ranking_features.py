"""Second-stage features: tables from a hand-made log, columns checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.candidates import Candidates
from recsys.data import Interactions
from recsys.ranking_features import build_tables, candidate_features, feature_names

# 2 users x 4 items. User 0 saw items 0 (rating 4) and 1 (rating 5); user 1 saw item 1 (rating 3).
LOG = Interactions(
    users=np.array([0, 0, 1]),
    items=np.array([0, 1, 1]),
    num_users=2,
    num_items=4,
    ratings=np.array([4.0, 5.0, 3.0], dtype=np.float32),
)
GENRES = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype=np.float32)  # item 3: unknown movie
YEARS = np.array([1990, 2000, 1980, 0], dtype=np.float32)
VECTORS = np.array([[1, 0], [0, 2], [1, 1], [-1, 0]], dtype=np.float32)


def test_tables_by_hand():
    t = build_tables(LOG, GENRES, YEARS, VECTORS)
    assert t.user_activity.tolist() == [2, 1] and t.item_popularity.tolist() == [1, 2, 0, 0]
    assert t.item_mean_rating.tolist() == [4, 4, 0, 0] and t.user_mean_rating.tolist() == [4.5, 3]
    np.testing.assert_allclose(t.user_genres, [[2 / 3, 1 / 3], [0.5, 0.5]])
    np.testing.assert_allclose(t.genre_share, [0.6, 0.4])  # genre 0: items 0, 1, 1 of 5 genre slots
    np.testing.assert_allclose(t.user_year_mean, [1995, 2000])
    np.testing.assert_allclose(t.user_year_std, [5, 0])
    np.testing.assert_allclose(np.linalg.norm(t.item_vectors, axis=1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match="item_year"):
        build_tables(LOG, GENRES, YEARS[:3], VECTORS)


def test_features_by_hand():
    tables = build_tables(LOG, GENRES, YEARS, VECTORS)
    history = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [0, 1, 1])), shape=(2, 4))
    # user 0: candidates 2 (proposed by source a at rank 0 and by b at rank 1) and 3 (b, rank 0)
    candidates = Candidates(
        users=np.array([0]),
        items=np.array([[2, 3, -1]]),
        ranks=np.array([[[0, 1], [5, 0], [0, 0]]], dtype=np.float32),
        scores=np.array([[[0.9, 0.2], [0.1, 0.7], [0, 0]]], dtype=np.float32),
        sources=("a", "b"),
        depths=(5, 3),
    )
    features = candidate_features(candidates, tables, history)
    names = feature_names(("a", "b"))
    assert features.shape == (1, 3, len(names)) and features.dtype == np.float32
    column = dict(zip(names, features[0, 0], strict=True))
    assert column["a_score"] == pytest.approx(0.9) and column["b_rank"] == 1
    assert column["b_score_gap"] == pytest.approx(0.2 - 0.7) and column["a_score_gap"] == 0
    assert column["num_sources"] == 2 and features[0, 1, names.index("num_sources")] == 1
    assert column["genre_affinity"] == pytest.approx(1 / 3)  # item 2 is genre 1 only
    assert column["genre_lift"] == pytest.approx((1 / 3) / 0.4)
    assert column["year_gap"] == -15 and column["year_z"] == pytest.approx(-15 / 6)
    assert column["item_mean_rating"] == 0 and column["rating_gap"] == -4.5
    assert column["cosine_max"] == pytest.approx(np.sqrt(0.5), rel=1e-5)  # to item 0 and to item 1
    assert column["cosine_mean"] == pytest.approx(np.sqrt(0.5), rel=1e-5)
    assert features[0, 1, names.index("year_gap")] == 0  # unknown year
    assert features[0, 1, names.index("cosine_max")] == pytest.approx(0.0, abs=1e-6)
    assert (features[0, 2] == 0).all()  # padding
