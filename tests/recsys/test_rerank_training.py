"""``train_two_stage``: a ranker fitted on validation users beats its first retriever's order on
the users it was tuned on (planted data whose genres the retrievers do not see)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.models.itemknn import ItemKNN
from recsys.models.popularity import MostPopular
from recsys.recommender import Recommender
from recsys.rerank_training import DEFAULT_CONFIGS, item_vectors_of, train_two_stage
from recsys.splits import random_split
from recsys.synthetic import make_interactions


@pytest.fixture(scope="module")
def planted():
    data, truth = make_interactions(num_users=400, num_items=150, events_per_user=30, seed=5)
    split = random_split(data, (0.8, 0.1, 0.1), seed=5)
    train = split.train.to_csr()
    known = (train + split.valid.to_csr()).tocsr()
    users, items = np.arange(train.shape[0]).astype(str), np.arange(train.shape[1]).astype(str)
    models = {"itemknn": ItemKNN(split.train, k=20), "pop": MostPopular(split.train)}
    retrievers = {n: Recommender(m, train, users, items, known=known) for n, m in models.items()}
    return split, truth, retrievers


def test_the_ranker_beats_its_first_retriever_on_the_tuning_users(planted):
    split, truth, retrievers = planted
    genres = np.eye(6, dtype=np.float32)[truth["item_cluster"]]
    fitted = train_two_stage(
        retrievers, {"itemknn": 30, "pop": 20}, split, genres, item_vectors=truth["item_factors"]
    )
    assert [t["config"] for t in fitted.trials] == [dict(c) for c in DEFAULT_CONFIGS]
    assert fitted.tune_ndcg == max(t["tune_ndcg@10"] for t in fitted.trials)
    assert fitted.tune_ndcg > fitted.tune_ndcg_first_retriever
    ranker = fitted.ranker
    assert ranker.sources == ("itemknn", "pop") and ranker.depths == (30, 20)
    assert ranker.info["split_checksum"] == split.checksum and ranker.info["rounds"] == ranker.best_iteration
    items, scores = ranker.rank(retrievers, 0, 10)
    assert len(items) == 10 and (np.diff(scores) <= 0).all()


def test_bad_inputs_are_refused(planted):
    split, _, retrievers = planted
    with pytest.raises(ValueError, match="must name exactly the retrievers"):
        train_two_stage(retrievers, {"itemknn": 30}, split)
    with pytest.raises(ValueError, match="tune_share"):
        train_two_stage(retrievers, {"itemknn": 30, "pop": 20}, split, tune_share=1.5)
    with pytest.raises(ValueError, match="none has item vectors"):
        item_vectors_of(retrievers)  # ItemKNN has none, popularity only one column
    other = random_split(make_interactions(num_users=50, num_items=40, seed=1)[0], (0.8, 0.1, 0.1), seed=1)
    with pytest.raises(ValueError, match="train it on this split"):
        train_two_stage(retrievers, {"itemknn": 30, "pop": 20}, other)
