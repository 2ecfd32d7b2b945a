"""The common surface of the torch embedding models, on tiny planted data."""

import numpy as np
import pytest
import torch

from recsys.evaluate import evaluate_scores
from recsys.models.bpr import BPR
from recsys.models.cml import CML
from recsys.models.itemknn import ItemKNN
from recsys.models.lightgcn import LightGCN
from recsys.models.popularity import MostPopular
from recsys.train import fit


def _make(name, split):
    train = split.train
    torch.manual_seed(0)
    if name == "bpr":
        return BPR(train.num_users, train.num_items, dim=16)
    if name == "lightgcn":
        return LightGCN(train.num_users, train.num_items, train.to_csr(), dim=16, num_layers=2)
    return CML(train.num_users, train.num_items, dim=16)


@pytest.mark.parametrize("name", ["bpr", "lightgcn", "cml"])
def test_shapes_finite_loss_and_parameters_change(planted_split, name):
    model = _make(name, planted_split)
    users = torch.tensor([0, 1, 2])
    pos = torch.tensor([3, 4, 5])
    neg = torch.tensor([[6, 7], [8, 9], [10, 11]])
    loss = model.loss(users, pos, neg)
    assert loss.ndim == 0 and torch.isfinite(loss)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    model.eval()
    scores = model.scores(users)
    assert scores.shape == (3, planted_split.train.num_items)
    assert model.user_vectors().shape[0] == planted_split.train.num_users
    assert model.item_vectors().shape[0] == planted_split.train.num_items


def test_cml_norms_are_clipped(planted_split):
    model = _make("cml", planted_split)
    with torch.no_grad():
        model.item_embedding.weight.mul_(100)
    model.loss(torch.tensor([0]), torch.tensor([1]), torch.tensor([[2, 3]]))
    assert model.item_embedding.weight[[1, 2, 3]].norm(dim=1).max() <= 1.0 + 1e-5


def _ndcg(model, split):
    known = (split.train.to_csr() + split.valid.to_csr()).tocsr()
    with torch.no_grad():
        result = evaluate_scores(lambda u: model.scores(torch.from_numpy(u)), split.test, known, ks=(10,))
    return result.metrics["ndcg@10"]


@pytest.mark.parametrize("name", ["bpr", "lightgcn", "cml", "itemknn"])
def test_beats_popularity_on_planted_data(planted_split, name):
    popularity = _ndcg(MostPopular(planted_split.train), planted_split)
    if name == "itemknn":
        model = ItemKNN(planted_split.train, k=20)
    else:
        model = _make(name, planted_split)
        fit(model, planted_split.train, epochs=40, batch_size=256, lr=0.01,
            num_negatives=10 if name == "cml" else 1, progress=False)
    assert _ndcg(model, planted_split) > popularity + 0.02


def test_itemknn_similarity_is_cosine():
    from recsys.data import Interactions

    users, items = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 2])
    data = Interactions(users=users, items=items, num_users=3, num_items=3)
    knn = ItemKNN(data, k=2)
    sim = knn.similarity.toarray()
    assert np.isclose(sim[0, 1], 1.0) and sim[0, 2] == 0 and sim[0, 0] == 0
