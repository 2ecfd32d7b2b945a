"""The combined simulator: fits recover planted weights, sources combine by softmax, weights round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.models.itemknn import ItemKNN
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from simulators.users import RecommenderUser, heldout_split, popularity_exposures
from simulators.users.combined import (
    CombinedUser,
    _nll,
    choice_nll,
    fit_pmi,
    fit_weights,
    item_source,
    load_weights,
    recommender_source,
    save_weights,
)


def planted_choices(utility: np.ndarray, seed: int) -> np.ndarray:
    """(B,) choices sampled from softmax(utility) (B, n)."""
    p = np.exp(utility - utility.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = np.random.default_rng(seed).random((len(p), 1))
    return (p.cumsum(axis=1) < u).sum(axis=1)


def test_fit_weights_recovers_planted_weights():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 4000, 5))
    targets = planted_choices(1.5 * a - 0.7 * b, seed=1)
    weights = fit_weights({"a": a, "b": b}, targets)
    assert weights["a"] == pytest.approx(1.5, abs=0.15)
    assert weights["b"] == pytest.approx(-0.7, abs=0.15)
    fitted = choice_nll(weights["a"] * a + weights["b"] * b, targets)
    assert fitted < choice_nll(a, targets) and fitted < np.log(5)


def test_the_likelihood_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 4, 3))
    targets = rng.integers(0, 4, size=50)
    w = rng.normal(size=3)
    _, grad = _nll(w, x, targets, 0.1)
    step = 1e-6
    numeric = [
        (_nll(w + step * e, x, targets, 0.1)[0] - _nll(w - step * e, x, targets, 0.1)[0]) / (2 * step)
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_fit_pmi_finds_the_planted_prior_weight():
    rng = np.random.default_rng(3)
    prior = rng.normal(size=(4000, 5))
    signal = rng.normal(size=(4000, 5))
    lm = signal + 0.8 * prior  # the LM's score mixes what the user wants with how generic the title is
    targets = planted_choices(2.0 * signal, seed=4)
    lam, weights = fit_pmi(lm, prior, targets)
    assert lam == pytest.approx(0.8, abs=0.1)
    assert weights["lm"] == pytest.approx(2.0, abs=0.2)
    assert weights["prior"] == pytest.approx(-weights["lm"] * lam)
    assert fit_pmi(lm, prior, targets, lambdas=[0.0])[0] == 0.0


@pytest.fixture(scope="module")
def lists():
    log, _ = make_interactions(num_users=120, num_items=40, events_per_user=15, seed=5)
    held = heldout_split(log, num_users=30, min_events=11, seed=6)
    knn = Recommender(
        ItemKNN(held.train, k=10), held.train.to_csr(), held.train.user_ids, held.train.item_ids
    )
    return held.train, knn, popularity_exposures(log, held, n=4, seed=7)


def test_combined_probabilities_are_the_softmax_of_the_weighted_sources(lists):
    train, knn, exposures = lists
    items = [str(i) for i in train.item_ids]
    popularity = np.log1p(train.item_popularity())
    user = CombinedUser(
        {"knn": recommender_source(knn), "pop": item_source(items, popularity)}, {"knn": 2.0, "pop": -0.5}
    )
    p = user.choice_probabilities(exposures)
    assert p.shape == (len(exposures), 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    knn_scores = np.stack(
        [knn.score_items(e.user, e.options, [i for i, _ in e.history])[0] for e in exposures]
    )
    pop_scores = np.array([[popularity[items.index(o)] for o in e.options] for e in exposures])
    z = 2.0 * knn_scores - 0.5 * pop_scores
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, expected / expected.sum(axis=1, keepdims=True), rtol=1e-5)
    alone = CombinedUser({"knn": recommender_source(knn)}, {"knn": 1.0})
    np.testing.assert_allclose(
        alone.choice_probabilities(exposures), RecommenderUser(knn).choice_probabilities(exposures), rtol=1e-5
    )


def test_mismatched_names_shapes_and_items_are_refused(lists):
    train, knn, exposures = lists
    with pytest.raises(ValueError, match="must match"):
        CombinedUser({"knn": recommender_source(knn)}, {"bpr": 1.0})
    wrong = CombinedUser({"bad": lambda e: np.zeros((len(e), 3))}, {"bad": 1.0})
    with pytest.raises(ValueError, match="shape"):
        wrong.choice_probabilities(exposures)
    missing = CombinedUser({"prior": item_source(["nope"], np.zeros(1))}, {"prior": 1.0})
    with pytest.raises(ValueError, match="no value"):
        missing.choice_probabilities(exposures)


def test_weights_round_trip_and_other_files_are_refused(tmp_path):
    path = save_weights(tmp_path / "w.json", {"lm": 0.5, "bpr": 0.4}, {"lists": 10})
    assert load_weights(path) == {"lm": 0.5, "bpr": 0.4}
    assert json.loads(path.read_text())["info"] == {"lists": 10}
    assert [p.name for p in tmp_path.iterdir()] == ["w.json"]  # no temporary file left behind
    (tmp_path / "other.json").write_text(json.dumps({"weights": {"lm": 1.0}}))
    with pytest.raises(ValueError, match="not a version-1"):
        load_weights(tmp_path / "other.json")
