"""The distilled simulator reproduces a teacher's choices from cheap features, fast, and round-trips."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from recsys.models.bpr import BPR
from recsys.models.itemknn import ItemKNN
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.users import heldout_split, popularity_exposures
from simulators.users.distilled import OptionFeatures, distil, load_distilled
from simulators.users.evaluate import agreement


@pytest.fixture(scope="module")
def world():
    log, _ = make_interactions(num_users=300, num_items=100, events_per_user=20, seed=5)
    held = heldout_split(log, num_users=80, min_events=11, seed=3)
    train = held.train
    torch.manual_seed(0)
    model = BPR(train.num_users, train.num_items, dim=16)
    fit(model, train, epochs=20, lr=0.02, batch_size=512, progress=False)
    bpr = Recommender(model, train.to_csr(), train.user_ids, train.item_ids)
    knn = Recommender(ItemKNN(train, k=20), train.to_csr(), train.user_ids, train.item_ids)
    rng = np.random.default_rng(0)
    items = [str(i) for i in train.item_ids]
    columns = {"log_popularity": np.log1p(train.item_popularity()), "noise": rng.normal(size=len(items))}
    genres = (rng.random((len(items), 4)) < 0.4).astype(np.float32)
    features = OptionFeatures(items, columns, {"bpr": bpr, "itemknn": knn}, genres=genres)
    train_held = heldout_split(train, num_users=150, min_events=11, seed=9, exclude=held.users)
    train_lists = [e for k in range(3) for e in popularity_exposures(train, train_held, n=5, seed=k)]
    test_lists = popularity_exposures(log, held, n=5, seed=4)
    return features, train_lists, test_lists


def teacher(features, exposures) -> np.ndarray:
    """A planted teacher: a known function of two of the features, plus a first-position pull (which the
    distilled simulator, without a position feature, cannot copy)."""
    x = features(exposures)
    col = features.columns.index
    return 2.0 * x[..., col("itemknn_rel")] + 0.5 * x[..., col("log_popularity")] + 0.3 * (np.arange(5) == 0)


def test_distilled_choices_agree_with_the_teacher_on_new_lists(world, tmp_path):
    features, train_lists, test_lists = world
    fast = distil(features, train_lists, teacher(features, train_lists), rounds=200)
    probabilities = fast.choice_probabilities(test_lists)
    assert probabilities.shape == (len(test_lists), 5) and np.allclose(probabilities.sum(1), 1)
    expected = teacher(features, test_lists)
    assert agreement(probabilities, expected) > 0.85
    start = time.perf_counter()
    fast.choice_probabilities(test_lists * 10)
    assert len(test_lists) * 10 / (time.perf_counter() - start) > 1000  # decisions/s, loose for CI
    again = load_distilled(fast.save(tmp_path / "distilled"), features)
    assert np.allclose(again.choice_probabilities(test_lists), probabilities)


def test_bad_inputs_are_named(world, tmp_path):
    features, train_lists, _ = world
    with pytest.raises(ValueError, match="teacher_scores"):
        distil(features, train_lists, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="not in the distilled"):
        features([train_lists[0].__class__(user="x", history=(), options=("nope",) * 5, target=0)])
    with pytest.raises(FileNotFoundError, match="distil"):
        load_distilled(tmp_path / "missing", features)
    with pytest.raises(ValueError, match="item column"):
        OptionFeatures(["1", "2"], {"x": np.zeros(3)}, {})
