"""`benchmarks.defaults --reuse-default`: a stored default run stands in for a retrain only when it
was made on the same split, with the same resolved config and seed."""

from __future__ import annotations

import pytest

from benchmarks import defaults
from recsys.splits import random_split
from recsys.synthetic import make_interactions


@pytest.fixture(scope="module")
def split():
    log = make_interactions(num_users=60, num_items=40, events_per_user=10, seed=5)
    return random_split(log[0], (0.8, 0.1, 0.1), seed=5)


def _first_record(split, model: str = "bpr") -> dict:
    saved: list[dict] = []
    defaults.run_one(split, "ml-100k", model, 0, [], lambda r: saved.append(dict(r)))
    return saved[-1]


def test_reuse_keeps_the_stored_default_and_skips_its_lr_points(split, monkeypatch):
    first = _first_record(split)
    assert "default_reused" not in first
    first["lr_sweep"].append({**first["lr_sweep"][0], "lr": 0.5, "valid_ndcg@10": 0.01})

    def no_training(*args, **kwargs):
        raise AssertionError("the default was retrained")

    monkeypatch.setattr(defaults, "train_default", no_training)
    saved: list[dict] = []
    record = defaults.run_one(split, "ml-100k", "bpr", 0, [0.5], saved.append, first, None, True)
    assert record["default_reused"] is True
    assert record["default_test_ndcg@10"] == first["default_test_ndcg@10"]
    assert [s["lr"] for s in record["lr_sweep"]] == [s["lr"] for s in first["lr_sweep"]]


def test_a_changed_split_config_or_seed_retrains(split):
    first = _first_record(split)
    key = (first["split_checksum"], first["default_config"], first["train_seed"])
    assert defaults.reusable_default(first, *key) is first
    assert defaults.reusable_default(first, "other", *key[1:]) is None
    assert defaults.reusable_default(first, key[0], key[1].replace('"lr"', '"lr_"'), key[2]) is None
    assert defaults.reusable_default(first, *key[:2], key[2] + 1) is None
    assert defaults.reusable_default(None, *key) is None
    retrained = defaults.run_one(
        split, "ml-100k", "bpr", 0, [], lambda r: None, first, first["train_seed"] + 1, True
    )
    assert "default_reused" not in retrained and retrained["train_seed"] == first["train_seed"] + 1


def test_search_only_adds_trials_to_the_stored_study(split, tmp_path, monkeypatch):
    import optuna

    monkeypatch.setattr(defaults, "STUDIES", tmp_path)
    monkeypatch.setattr(defaults, "load_split", lambda dataset: split)
    defaults.search_only(["ml-100k"], ["itemknn"], 2, seed=5)
    db = defaults.study_file("ml-100k", "itemknn", defaults.cli_tune_base("itemknn"))
    first = optuna.load_study(study_name=None, storage=f"sqlite:///{db}").trials
    assert len(first) == 2 and first[0].params["knn_k"] == defaults.cli_tune_base("itemknn").knn_k
    defaults.search_only(["ml-100k"], ["itemknn"], 3, seed=6)  # a second process: one more trial
    again = optuna.load_study(study_name=None, storage=f"sqlite:///{db}").trials
    assert len(again) == 3 and [t.params for t in again[:2]] == [t.params for t in first]


def test_a_search_whose_best_is_the_default_keeps_the_default_run_as_its_retrain(
    split, tmp_path, monkeypatch
):
    monkeypatch.setattr(defaults, "STUDIES", tmp_path)
    saved: list[dict] = []
    record = defaults.run_one(split, "ml-100k", "bpr", 1, [], saved.append)  # one trial: the default
    assert record["trials"] == 1
    assert defaults.cli_tune_base("bpr") == defaults.cli_train_config("bpr")  # so trial 0 is the default
    assert record["tuned_is_default"] is True
    assert record["tuned_test_ndcg@10"] == record["default_test_ndcg@10"]
    assert record["tuned_epochs"] == record["default_epochs"]
    other = defaults.run_tune(split, "ml-100k", "bpr", 1, saved[0]["lr_sweep"][0], None)  # no config: retrain
    assert (
        other["tuned_is_default"] is False and other["tuned_valid_ndcg@10"] == record["tuned_valid_ndcg@10"]
    )
