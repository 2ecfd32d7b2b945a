import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from product.matching.blocking import blocking_recall, candidate_pairs, knn_dense, knn_sparse, neighbours


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("sparse", [False, True])
def test_knn_matches_exact_search(sparse):
    rng = np.random.default_rng(0)
    queries, base = _unit(rng.random((37, 16))), _unit(rng.random((53, 16)))
    exact = np.argsort(-(queries @ base.T), axis=1)[:, :5]
    if sparse:
        sims, ids = knn_sparse(sp.csr_matrix(queries), sp.csr_matrix(base), 5, chunk=8)
    else:
        sims, ids = knn_dense(queries, base, 5)
    np.testing.assert_array_equal(ids, exact)
    np.testing.assert_allclose(sims, np.take_along_axis(queries @ base.T, exact, axis=1), rtol=1e-5)


def test_knn_sparse_pads_when_base_is_small():
    sims, ids = knn_sparse(sp.csr_matrix(np.eye(3)), sp.csr_matrix(np.eye(3)[:2]), 4)
    assert ids.shape == (3, 4)
    assert (ids[:, 2:] == -1).all() and np.isinf(sims[:, 2:]).all()


def test_candidates_union_both_directions_and_recall():
    rng = np.random.default_rng(1)
    left, right = _unit(rng.random((20, 8))), _unit(rng.random((30, 8)))
    path = neighbours(left, right, 3)
    candidates = candidate_pairs([path])
    assert not candidates.duplicated().any()
    # every left's 3 nearest rights and every right's 3 nearest lefts are candidates
    expected = {(i, j) for i in range(20) for j in path.left_ids[i]}
    expected |= {(i, j) for j in range(30) for i in path.right_ids[j]}
    assert set(zip(candidates["left_idx"], candidates["right_idx"], strict=True)) == expected
    truth = pd.DataFrame({"left_idx": [0, 0], "right_idx": [path.left_ids[0, 0], -5]})
    assert blocking_recall(candidates, truth) == 0.5
    assert len(candidate_pairs([path], k=1)) < len(candidates)
