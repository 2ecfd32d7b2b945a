import numpy as np
import scipy.sparse as sp
import torch

from recsys.data import Interactions
from recsys.evaluate import evaluate_scores, top_k
from recsys.metrics import hit_at_k, mrr_at_k, ndcg_at_k, precision_at_k, recall_at_k


def test_metrics_by_hand():
    hits = np.array([[True, False, True], [False, False, False]])
    n_rel = np.array([2, 1])
    assert recall_at_k(hits, n_rel, 3).tolist() == [1.0, 0.0]
    assert precision_at_k(hits, n_rel, 3).tolist() == [2 / 3, 0.0]
    assert hit_at_k(hits, n_rel, 1).tolist() == [1.0, 0.0]
    assert mrr_at_k(hits, n_rel, 3).tolist() == [1.0, 0.0]
    expected = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    assert np.isclose(ndcg_at_k(hits, n_rel, 3)[0], expected)


def _oracle_setup():
    # 3 users, 5 items; user u's test item is item u+2; train items are 0 and 1 for everyone.
    test = Interactions(users=np.array([0, 1, 2]), items=np.array([2, 3, 4]), num_users=3, num_items=5)
    known = sp.csr_matrix(np.array([[1, 1, 0, 0, 0]] * 3, dtype=np.float32))
    return test, known


def test_oracle_scores_are_perfect_and_known_items_masked():
    test, known = _oracle_setup()

    def oracle(users):
        scores = torch.zeros(len(users), 5)
        scores[:, :2] = 100.0  # known items score highest but must be masked
        scores[torch.arange(len(users)), torch.from_numpy(users + 2)] = 10.0
        return scores

    result = evaluate_scores(oracle, test, known, ks=(1, 3), batch_size=2)
    assert result.metrics["recall@1"] == 1.0 and result.metrics["ndcg@3"] == 1.0
    items, _ = top_k(oracle, np.array([0]), 2, known)
    assert 0 not in items[0] and 1 not in items[0]


def test_candidate_set_restricts_ranking():
    test, known = _oracle_setup()
    result = evaluate_scores(
        lambda u: torch.rand(len(u), 5), test, known, ks=(1,), candidates=np.array([2])
    )
    # only user 0's test item is a candidate, and it is the only rankable item
    assert result.num_users == 1 and result.metrics["recall@1"] == 1.0
