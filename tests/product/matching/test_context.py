import numpy as np
import pandas as pd
import pytest

from product.matching.context import CONTEXT_COLUMNS, left_folds, score_context, union_pairs


def test_rank_and_margin_against_the_candidates():
    # left 0 has candidates right 0 (0.9), 1 (0.6), 2 (0.6); left 1 has right 0 (0.3)
    ref_left, ref_right = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 0])
    ref_scores = np.array([0.9, 0.6, 0.6, 0.3])
    # the first three are candidates; (1, 1) is a labelled pair that blocking missed
    table = score_context(
        np.array([0, 0, 1, 1]),
        np.array([0, 1, 0, 1]),
        np.array([0.9, 0.6, 0.3, 0.8]),
        ref_left,
        ref_right,
        ref_scores,
    )
    assert list(table.columns) == list(CONTEXT_COLUMNS) and table.dtypes.eq(np.float32).all()
    best, tied, weak, missed = (table.iloc[i] for i in range(4))
    # (0, 0): best for left 0 (margin 0.9 - 0.6) and for right 0 (margin 0.9 - 0.3)
    assert best["score_rank_max"] == 1 and best["score_margin_min"] == pytest.approx(0.3)
    assert best["score_margin_max"] == pytest.approx(0.6)
    # (0, 1): behind (0, 0) on the left (rank 2, margin -0.3); right 1 has no other candidate
    assert tied["score_rank_min"] == 1 and tied["score_rank_max"] == 2
    assert tied["score_margin_min"] == pytest.approx(-0.3) and tied["score_margin_max"] == pytest.approx(0.6)
    # (1, 0): alone for left 1, second for right 0
    assert weak["score_rank_max"] == 2 and weak["score_margin_min"] == pytest.approx(0.3 - 0.9)
    # (1, 1): not a candidate itself, beats left 1's only candidate and is alone for right 1
    assert missed["score_rank_max"] == 1 and missed["score_margin_min"] == pytest.approx(0.8 - 0.6)
    assert missed["stage1_score"] == pytest.approx(0.8)


def test_ties_share_the_best_rank_with_zero_margin():
    table = score_context(
        np.array([0, 0]),
        np.array([0, 1]),
        np.array([0.5, 0.5]),
        *[np.array(a) for a in ([0, 0], [0, 1], [0.5, 0.5])],
    )
    assert (table["score_rank_min"] == 1).all()
    np.testing.assert_allclose(table["score_margin_min"], 0.0)


def test_union_pairs_keeps_first_appearance():
    left, right, rows = union_pairs(
        [(np.array([0, 1, 0]), np.array([1, 1, 1])), (np.array([2, 1]), np.array([0, 1]))]
    )
    np.testing.assert_array_equal(left, [0, 1, 2])
    np.testing.assert_array_equal(right, [1, 1, 0])
    np.testing.assert_array_equal(rows[0], [0, 1, 0])
    np.testing.assert_array_equal(rows[1], [2, 1])


def test_left_folds_are_balanced_and_seeded():
    folds = left_folds(23, 5, seed=1)
    assert np.bincount(folds).tolist() == [5, 5, 5, 4, 4]
    np.testing.assert_array_equal(folds, left_folds(23, 5, seed=1))
    assert not np.array_equal(folds, left_folds(23, 5, seed=2))


def _best_other(frame: pd.DataFrame, same: str, other: str) -> np.ndarray:
    """For each row, the best score among rows sharing ``same`` with another ``other`` (0 if none)."""
    best = []
    for key, partner in zip(frame[same], frame[other], strict=True):
        rivals = frame.loc[(frame[same] == key) & (frame[other] != partner), "s"]
        best.append(rivals.max() if len(rivals) else 0.0)
    return np.array(best)


def test_matches_a_groupby_reference_on_random_pairs():
    rng = np.random.default_rng(0)
    pairs = pd.DataFrame({"l": rng.integers(0, 20, 300), "r": rng.integers(0, 30, 300)}).drop_duplicates()
    scores = rng.random(len(pairs))
    table = score_context(pairs["l"], pairs["r"], scores, pairs["l"], pairs["r"], scores)
    frame = pairs.assign(s=scores)
    rank_l = frame.groupby("l")["s"].rank(ascending=False, method="min").to_numpy()
    rank_r = frame.groupby("r")["s"].rank(ascending=False, method="min").to_numpy()
    np.testing.assert_array_equal(table["score_rank_max"], np.maximum(rank_l, rank_r))
    expected = np.minimum(scores - _best_other(frame, "l", "r"), scores - _best_other(frame, "r", "l"))
    np.testing.assert_allclose(table["score_margin_min"], expected, atol=1e-6)
