"""Blocking: the candidate pairs between two catalogs that the matcher scores.

Two paths, each run in both directions (left -> right and right -> left) and unioned:

* semantic: exact FAISS inner-product kNN (``recsys.index``) on unit MiniLM title embeddings;
* lexical: kNN on character n-gram TF-IDF of titles (sparse products, chunked).

A pair is a candidate when either listing is among the other's ``k`` nearest on either path, so a
left listing gets at most ``4 k`` candidates. Blocking recall = the share of known matches that are
candidates; ``benchmarks/matching.py`` reports it with the mean candidate count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass
class Neighbours:
    """The ``k`` nearest right listings of every left listing, and the reverse.

    ``left_ids[i]`` are right row numbers, best first, with similarities ``left_sims[i]``;
    ``right_ids[j]`` are left row numbers. Rows with fewer than ``k`` neighbours pad ids with -1.
    """

    left_sims: np.ndarray  # (n_left, k) float32
    left_ids: np.ndarray  # (n_left, k) int64
    right_sims: np.ndarray  # (n_right, k) float32
    right_ids: np.ndarray  # (n_right, k) int64


def knn_dense(queries: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product kNN (a FAISS ``Flat`` index from ``recsys.index``); returns (sims, ids),
    each (n_queries, k), padded with -inf / -1 when ``base`` has fewer than ``k`` rows."""
    from recsys.index import build_index, search

    index = build_index(np.asarray(base, dtype=np.float32), metric="ip", factory="Flat")
    return search(index, np.asarray(queries, dtype=np.float32), k)


def knn_sparse(
    queries: sp.csr_matrix, base: sp.csr_matrix, k: int, chunk: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product kNN over sparse rows (e.g. TF-IDF); returns (sims, ids), (n, k)."""
    n, m = queries.shape[0], base.shape[0]
    kk = min(k, m)
    sims = np.full((n, k), -np.inf, dtype=np.float32)
    ids = np.full((n, k), -1, dtype=np.int64)
    base_t = base.T.tocsc()
    for start in range(0, n, chunk):
        block = (queries[start : start + chunk] @ base_t).toarray()  # (chunk, m)
        top = np.argpartition(-block, kk - 1, axis=1)[:, :kk]
        top_sims = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        sims[start : start + chunk, :kk] = np.take_along_axis(top_sims, order, axis=1)
        ids[start : start + chunk, :kk] = np.take_along_axis(top, order, axis=1)
    return sims, ids


def neighbours(left: np.ndarray | sp.csr_matrix, right: np.ndarray | sp.csr_matrix, k: int) -> Neighbours:
    """kNN in both directions between two matrices of unit rows (dense or sparse)."""
    search = knn_sparse if sp.issparse(left) else knn_dense
    left_sims, left_ids = search(left, right, k)
    right_sims, right_ids = search(right, left, k)
    return Neighbours(left_sims, left_ids, right_sims, right_ids)


def candidate_pairs(paths: list[Neighbours], k: int | None = None) -> pd.DataFrame:
    """Union of every path's neighbours in both directions, as ``left_idx, right_idx`` rows.

    Args:
        paths: one ``Neighbours`` per blocking path.
        k: use only the first ``k`` neighbours of each (all when None).
    """
    lefts, rights = [], []
    for path in paths:
        left_ids = path.left_ids[:, :k]
        right_ids = path.right_ids[:, :k]
        rows = np.repeat(np.arange(left_ids.shape[0]), left_ids.shape[1])
        lefts.append(rows)
        rights.append(left_ids.ravel())
        cols = np.repeat(np.arange(right_ids.shape[0]), right_ids.shape[1])
        lefts.append(right_ids.ravel())
        rights.append(cols)
    left_idx, right_idx = np.concatenate(lefts), np.concatenate(rights)
    keep = (left_idx >= 0) & (right_idx >= 0)
    pairs = pd.DataFrame({"left_idx": left_idx[keep], "right_idx": right_idx[keep]})
    return pairs.drop_duplicates().sort_values(["left_idx", "right_idx"], ignore_index=True)


def blocking_recall(candidates: pd.DataFrame, matches: pd.DataFrame) -> float:
    """Share of true matches (``left_idx, right_idx`` rows) found among the candidates."""
    if len(matches) == 0:
        raise ValueError("blocking recall needs at least one true match")
    found = matches[["left_idx", "right_idx"]].merge(
        candidates[["left_idx", "right_idx"]].drop_duplicates(), how="inner"
    )
    return len(found) / len(matches[["left_idx", "right_idx"]].drop_duplicates())
