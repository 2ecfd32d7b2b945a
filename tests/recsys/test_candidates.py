"""Stage one of two-stage ranking: merged candidates from several Recommenders."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recsys.candidates import candidate_labels, merge_lists, retrieve, top_unexcluded
from recsys.models.itemknn import ItemKNN
from recsys.models.popularity import MostPopular
from recsys.recommender import Recommender


@pytest.fixture(scope="module")
def retrievers(planted_split) -> dict[str, Recommender]:
    train = planted_split.train.to_csr()
    known = (train + planted_split.valid.to_csr()).tocsr()
    users, items = np.arange(train.shape[0]).astype(str), np.arange(train.shape[1]).astype(str)
    models = {"itemknn": ItemKNN(planted_split.train, k=20), "pop": MostPopular(planted_split.train)}
    return {name: Recommender(model, train, users, items, known=known) for name, model in models.items()}


def test_merge_lists_keeps_first_occurrences_in_order():
    a = np.array([[3, 1], [0, 2], [-1, -1]])
    b = np.array([[1, 4], [2, -1], [5, 5]])
    assert merge_lists([a, b]).tolist() == [[3, 1, 4], [0, 2, -1], [5, -1, -1]]


@pytest.mark.parametrize("exclude_known", [True, False])
def test_retrieve_ranks_scores_and_exclusions(retrievers, planted_split, exclude_known):
    depths = {"itemknn": 10, "pop": 5}
    users = np.array([0, 3, 7, 11])
    extra = [np.array([0, 1]), np.array([], dtype=np.int64), np.array([5]), np.array([2, 3])]
    found = retrieve(retrievers, depths, users, exclude=extra, exclude_known=exclude_known)
    assert found.sources == ("itemknn", "pop") and found.depths == (10, 5)
    assert found.items.shape[0] == 4 and found.ranks.shape == found.scores.shape == (*found.items.shape, 2)
    known = retrievers["pop"].known
    for q, user in enumerate(users):
        items = found.items[q][found.mask[q]]
        assert len(set(items)) == len(items) and not set(items) & set(extra[q])
        if exclude_known:
            assert not set(items) & set(known[user].indices)
        for s, name in enumerate(found.sources):
            proposed, _ = retrievers[name].recommend_batch(
                np.array([user]), depths[name], exclude=[extra[q]], exclude_known=exclude_known
            )
            proposed = proposed[0][proposed[0] >= 0]
            where = {item: j for j, item in enumerate(found.items[q])}
            assert [found.ranks[q, where[i], s] for i in proposed] == list(range(len(proposed)))
            others = [j for j, i in enumerate(items) if i not in set(proposed)]
            assert (found.ranks[q, others, s] == depths[name]).all()
            full = retrievers[name].model.scores(torch.tensor([user])).numpy()[0]
            np.testing.assert_allclose(found.scores[q, : len(items), s], full[items], rtol=1e-6)
    assert (found.proposed().sum(-1)[found.mask] >= 1).all()


def test_top_unexcluded_orders_best_first_and_pads_when_too_few_remain():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.4, 0.3, 0.2, 0.1]], dtype=np.float32)
    assert top_unexcluded(scores, None, 2).tolist() == [[1, 3], [0, 1]]
    excluded = [np.array([1]), np.array([0, 1, 2])]
    assert top_unexcluded(scores, excluded, 2).tolist() == [[3, 2], [3, -1]]
    assert top_unexcluded(scores, excluded, 9).tolist() == [[3, 2, 0, -1], [3, -1, -1, -1]]
    assert scores[0, 1] == np.float32(0.9)  # the caller's scores are not changed


def test_retrieve_rejects_mismatched_depths(retrievers):
    with pytest.raises(ValueError, match="depths"):
        retrieve(retrievers, {"itemknn": 10}, np.array([0]))


def test_candidate_labels(retrievers):
    found = retrieve(retrievers, {"itemknn": 3, "pop": 3}, np.array([0, 1]))
    relevant = sp.lil_matrix(retrievers["pop"].train.shape)
    relevant[0, found.items[0, 1]] = 1
    relevant[1, found.items[1, 0]] = 1
    labels = candidate_labels(found, relevant)
    assert labels.shape == found.items.shape
    assert labels.sum() == 2 and labels[0, 1] == 1 and labels[1, 0] == 1
