"""The distilled simulator's features: the fast pair scorers and vectorised history aggregates give
the same values as the plain per-list computation, the history x title feature is what it says,
and without the position feature the simulator has no position bias."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.models.bpr import BPR
from recsys.models.itemknn import ItemKNN
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.users import heldout_split, popularity_exposures
from simulators.users.distilled import KNNPairs, OptionFeatures, distil, pair_scorer
from simulators.users.evaluate import position_bias, rotations
from simulators.users.exposures import Exposure


@pytest.fixture(scope="module")
def world():
    log, _ = make_interactions(num_users=200, num_items=80, events_per_user=20, seed=11)
    held = heldout_split(log, num_users=60, min_events=11, seed=3)
    train = held.train
    torch.manual_seed(0)
    model = BPR(train.num_users, train.num_items, dim=8)
    fit(model, train, epochs=5, lr=0.02, batch_size=512, progress=False)
    bpr = Recommender(model, train.to_csr(), train.user_ids, train.item_ids)
    knn = Recommender(ItemKNN(train, k=10), train.to_csr(), train.user_ids, train.item_ids)
    rng = np.random.default_rng(1)
    items = [str(i) for i in train.item_ids]
    columns = {"log_popularity": np.log1p(train.item_popularity())}
    genres = (rng.random((len(items), 5)) < 0.4).astype(np.float32)
    vectors = rng.normal(size=(len(items), 6))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lists = popularity_exposures(log, held, n=5, seed=2)
    stranger = Exposure("nobody", lists[0].history, lists[0].options, 0)  # not in the recommenders
    return items, columns, {"bpr": bpr, "itemknn": knn}, genres, vectors, [*lists, stranger]


def reference(items, columns, recommenders, genres, vectors, exposures, recent=5):
    """The features computed list by list from the public API (full-catalogue scores per user)."""
    index = {i: k for k, i in enumerate(items)}
    unit = genres / np.maximum(np.linalg.norm(genres, axis=1, keepdims=True), 1e-12)
    rows = []
    for e in exposures:
        options = [index[i] for i in e.options]
        history = [index[i] for i, _ in e.history if i in index]
        last = [index[i] for i, _ in e.history[-recent:] if i in index]
        per = [np.asarray(c, dtype=np.float64)[options] for c in columns.values()]
        per += [
            rec.score_items(e.user, e.options, [i for i, _ in e.history])[0] for rec in recommenders.values()
        ]
        taste = unit[history].mean(0)
        per.append(unit[options] @ (taste / max(np.linalg.norm(taste), 1e-12)))
        mean = vectors[last].mean(0)
        per.append(vectors[options] @ (mean / np.linalg.norm(mean)))
        values = np.stack(per, 1)  # (n, P)
        rating = np.full((len(options), 1), np.mean([r for _, r in e.history]))
        rows.append(np.concatenate([values, values - values.mean(0), rating], 1))
    return np.stack(rows)  # (B, n, F)


def test_features_equal_the_plain_computation(world):
    items, columns, recommenders, genres, vectors, lists = world
    features = OptionFeatures(items, columns, recommenders, genres, item_vectors=vectors)
    fast = features(lists)
    expected = reference(items, columns, recommenders, genres, vectors, lists)
    assert fast.shape == expected.shape == (len(lists), 5, len(features.columns))
    assert np.allclose(fast, expected, rtol=1e-6, atol=1e-5)
    assert features.columns[-1] == "mean_rating" and "text_affinity_rel" in features.columns


@pytest.mark.parametrize("name", ["bpr", "itemknn"])
def test_pair_scorers_equal_the_full_catalogue_scores(world, name):
    recommender = world[2][name]
    rng = np.random.default_rng(4)
    users = rng.integers(0, 150, size=40)
    items = rng.integers(0, 80, size=(40, 7))
    full = np.take_along_axis(recommender.model_scores(users).numpy(), items, axis=1)
    assert np.allclose(pair_scorer(recommender.model)(users, items), full, rtol=1e-6, atol=1e-6)
    if name == "itemknn":  # the users' dense rows read a few at a time
        blocks = KNNPairs(recommender.model.user_items, recommender.model.similarity, block=3 * 80)
        assert np.allclose(blocks(users, items), full, rtol=1e-6, atol=1e-6)


def test_without_position_every_order_of_a_list_gets_the_same_choice(world):
    items, columns, recommenders, genres, vectors, lists = world
    features = OptionFeatures(items, columns, recommenders, genres)
    assert "position" not in features.columns
    held = lists[:-1]
    teacher = features(held)[..., features.columns.index("bpr_rel")] + 0.4 * (
        np.arange(5) == 0
    )  # a first-slot pull
    fast = distil(features, held, teacher, rounds=50)
    probabilities = fast.choice_probabilities(rotations(held[:20])).reshape(20, 5, 5)  # (list, shift, n)
    chosen = [
        [e.options[k] for e, k in zip(rotations([held[b]]), probabilities[b].argmax(1), strict=True)]
        for b in range(20)
    ]
    assert all(len(set(c)) == 1 for c in chosen)
    assert position_bias(fast, held[:20])["rotation_max_gap"] == 0
    with_position = OptionFeatures(items, columns, recommenders, genres, position=True)
    assert with_position.columns[-1] == "position"
    assert np.array_equal(with_position(held)[0, :, -1], np.arange(5))


def test_text_vectors_must_cover_the_catalog(world):
    items, columns, recommenders, *_ = world
    with pytest.raises(ValueError, match="item_vectors"):
        OptionFeatures(items, columns, recommenders, item_vectors=np.zeros((3, 4)))
