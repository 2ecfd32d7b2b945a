"""Score context: a second stage that sees how each pair's first-stage score ranks among the other
candidates of its two listings.

The neighbour context of ``features.py`` asks "is this the most *similar* listing?"; this one asks
"is this the listing the *model* likes best?", once the first-stage model has combined all the
pair features. A listing usually has one match, so a pair that scores 0.7 while its left listing
has another candidate at 0.95 is probably not it (collective or "global" matching, e.g. Kouki et
al., 2017; Ditto's and ZeroER's 1:1 heuristics use the same signal after the fact).

The first-stage scores must be out-of-fold, or the second stage would learn from over-fitted
scores: left listings are split into folds (``left_folds``), each fold's pairs are scored by a
first-stage model trained on the other folds' labelled pairs, and prediction uses the same folds,
so training and prediction scores come from the same kind of model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CONTEXT_COLUMNS = ("stage1_score", "score_rank_min", "score_rank_max", "score_margin_min", "score_margin_max")


def left_folds(n_left: int, folds: int, seed: int) -> np.ndarray:
    """The fold of each left listing, (n_left,) ints in ``[0, folds)``: a seeded, balanced split."""
    return np.random.default_rng(seed).permutation(n_left) % folds


def union_pairs(
    groups: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The distinct (left, right) row pairs of several groups, in order of first appearance.

    Returns ``left_idx, right_idx`` of the union and, per group, the union row of each of its pairs.
    """
    left = np.concatenate([np.asarray(g[0], dtype=np.int64) for g in groups])
    right = np.concatenate([np.asarray(g[1], dtype=np.int64) for g in groups])
    keys = pd.MultiIndex.from_arrays([left, right])
    first = ~keys.duplicated()
    unique = keys[first]
    rows, start = [], 0
    for g in groups:
        rows.append(unique.get_indexer(keys[start : start + len(g[0])]))
        start += len(g[0])
    return left[first], right[first], rows


def _side(
    keys: np.ndarray,
    partners: np.ndarray,
    scores: np.ndarray,
    ref_keys: np.ndarray,
    ref_partners: np.ndarray,
    ref_scores: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per query pair (listing ``keys[i]``, other listing ``partners[i]``): 1 + the number of
    reference pairs of the same listing that score higher, and the margin of its score over the
    listing's best reference pair with *another* partner (over 0 when there is none)."""
    order = np.lexsort((-ref_scores, ref_keys))  # by listing, best first
    k, p, s = ref_keys[order], ref_partners[order], ref_scores[order]
    n = len(k)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, n])
    group = np.minimum(np.searchsorted(k[starts], keys), len(starts) - 1)
    found = k[starts][group] == keys
    first = starts[group]
    best = np.where(found, s[first], 0.0)
    best_partner = np.where(found, p[first], -1)
    second = np.where(found & (sizes[group] > 1), s[np.minimum(first + 1, n - 1)], 0.0)
    competitor = np.where(partners == best_partner, second, best)
    # Scores lie in [0, 1], so listing + score / 2 sorts by listing, then score, and the pairs of a
    # listing that score higher than s lie between listing + s / 2 and listing + 3 / 4.
    composite = np.sort(k + 0.5 * s)
    higher = np.searchsorted(composite, keys + 0.75) - np.searchsorted(
        composite, keys + 0.5 * scores, "right"
    )
    return 1.0 + higher, scores - competitor


def score_context(
    left_idx: np.ndarray,
    right_idx: np.ndarray,
    scores: np.ndarray,
    ref_left: np.ndarray,
    ref_right: np.ndarray,
    ref_scores: np.ndarray,
) -> pd.DataFrame:
    """Context features of pairs against a reference set of scored pairs, (n, 5) float32.

    Args:
        left_idx, right_idx, scores: the pairs to describe and their out-of-fold first-stage scores
            in ``[0, 1]``.
        ref_left, ref_right, ref_scores: the pairs they compete with (the blocking candidates, the
            same at training and prediction time), each pair once; a pair may be among them.

    Returns ``stage1_score`` and the min / max over the pair's two listings of its rank among the
    listing's reference pairs (1 = no other scores higher) and its margin over the listing's best
    other pair.
    """
    scores, ref_scores = np.asarray(scores, dtype=np.float64), np.asarray(ref_scores, dtype=np.float64)
    left_idx, right_idx = np.asarray(left_idx), np.asarray(right_idx)
    ref_left, ref_right = np.asarray(ref_left), np.asarray(ref_right)
    rank_l, margin_l = _side(left_idx, right_idx, scores, ref_left, ref_right, ref_scores)
    rank_r, margin_r = _side(right_idx, left_idx, scores, ref_right, ref_left, ref_scores)
    return pd.DataFrame(
        {
            "stage1_score": scores,
            "score_rank_min": np.minimum(rank_l, rank_r),
            "score_rank_max": np.maximum(rank_l, rank_r),
            "score_margin_min": np.minimum(margin_l, margin_r),
            "score_margin_max": np.maximum(margin_l, margin_r),
        }
    ).astype(np.float32)
