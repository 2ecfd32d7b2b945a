"""The online contract: every model round-trips through the saved format and answers the same way."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recsys.artifact import CONTENT_MODELS, MODELS
from recsys.experiment import RECOMMENDER_DIR, TrainConfig, run_experiment
from recsys.models.bpr import BPR
from recsys.models.cm3 import CM3, CM3Config
from recsys.models.cml import CML
from recsys.models.content_cml import ContentCML
from recsys.models.itemknn import ItemKNN
from recsys.models.lightgcn import LightGCN
from recsys.models.popularity import MostPopular
from recsys.models.vbpr import VBPR
from recsys.recommender import Recommender, UnknownItemError
from recsys.train import fit


def content_features(num_items: int, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(num_items, 12)).astype(np.float32),
        rng.normal(size=(num_items, 6)).astype(np.float32),
    ]


def build(name: str, split) -> tuple[object, list[np.ndarray] | None]:
    """A small trained model of each kind, and the content features it uses."""
    train = split.train
    users, items, matrix = train.num_users, train.num_items, train.to_csr()
    features = content_features(items)
    torch.manual_seed(0)
    models = {
        "pop": lambda: MostPopular(train),
        "itemknn": lambda: ItemKNN(train, k=10),
        "bpr": lambda: BPR(users, items, dim=8),
        "lightgcn": lambda: LightGCN(users, items, matrix, dim=8, num_layers=2),
        "cml": lambda: CML(users, items, dim=8),
        "vbpr": lambda: VBPR(users, items, features, dim=8, content_dim=4),
        "content_cml": lambda: ContentCML(users, items, features, dim=8, hidden=16),
        "cm3": lambda: CM3(users, items, matrix, features, CM3Config(dim=8, knn_k=5)),
    }
    model = models[name]()
    if isinstance(model, torch.nn.Module):
        fit(model, train, epochs=2, batch_size=256, lr=0.01, num_negatives=2, progress=False)
    return model, (features if name in CONTENT_MODELS else None)


def recommender_for(name: str, split) -> Recommender:
    model, features = build(name, split)
    train = split.train
    known = (train.to_csr() + split.valid.to_csr()).tocsr()
    return Recommender(
        model,
        train.to_csr(),
        train.user_ids,
        train.item_ids,
        known=known,
        features=features,
        protocol={"split": "random", "model": name},
    )


def test_models_dict_covers_the_eight_models():
    assert set(MODELS) == {"pop", "itemknn", "bpr", "lightgcn", "cml", "vbpr", "content_cml", "cm3"}


@pytest.mark.parametrize("name", list(MODELS))
def test_save_load_answers_identically(tmp_path, planted_split, name):
    live = recommender_for(name, planted_split)
    user = str(planted_split.train.user_ids[5])
    answer = live.recommend(user, 5)
    assert answer.source == "exact" and len(answer.items) == 5
    seen = set(planted_split.train.item_ids[planted_split.train.items[planted_split.train.users == 5]])
    assert not seen & set(answer.items)
    assert answer.scores == sorted(answer.scores, reverse=True)

    path = live.save(tmp_path / "saved")
    assert (path / "manifest.json").is_file() and not list(tmp_path.glob(".saved.*"))
    loaded = Recommender.load(path)
    assert loaded.name == name and loaded.protocol["model"] == name
    again = loaded.recommend(user, 5)
    assert again.items == answer.items and np.allclose(again.scores, answer.scores, rtol=1e-6, atol=1e-7)
    users = np.arange(20)
    live_items, live_scores = live.recommend_batch(users, 7)
    items, scores = loaded.recommend_batch(users, 7)
    assert items.shape == (20, 7) and np.array_equal(items, live_items)
    assert np.allclose(scores, live_scores, rtol=1e-6, atol=1e-7)

    item = str(planted_split.train.item_ids[3])
    similar = loaded.similar_items(item, 4)
    assert len(similar) == 4 and item not in {i for i, _ in similar}
    assert similar == live.similar_items(item, 4)

    cold = loaded.recommend("nobody-like-this", 5)
    assert cold.source == "popularity" and len(cold.items) == 5
    popularity = np.asarray(planted_split.train.to_csr().sum(axis=0)).ravel()
    assert cold.scores == sorted(cold.scores, reverse=True) and cold.scores[0] == popularity.max()

    recent = [str(planted_split.train.item_ids[i]) for i in (1, 2)]
    anonymous = loaded.recommend(None, 5, recent_items=[*recent, "not-an-item"])
    assert anonymous.source == ("popularity" if name == "pop" else "item_to_item")
    assert len(anonymous.items) == 5 and not set(recent) & set(anonymous.items)
    assert anonymous.ignored_items == ["not-an-item"]


@pytest.mark.parametrize("name", ["bpr", "cml"])
def test_exclude_adds_to_or_replaces_the_history(planted_split, name):
    live = recommender_for(name, planted_split)
    user = str(planted_split.train.user_ids[0])
    first = live.recommend(user, 5)
    second = live.recommend(user, 5, exclude=first.items[:2])
    assert not set(first.items[:2]) & set(second.items) and second.items[:3] == first.items[2:5]
    history = set(planted_split.train.item_ids[planted_split.train.items[planted_split.train.users == 0]])
    everything = live.recommend(user, live.train.shape[1], exclude_known=False)
    assert history <= set(everything.items)
    many = live.recommend_many([user, "ghost"], 5, exclude=[first.items[:2], []])
    assert many[0].items == second.items and many[1].source == "popularity"


@pytest.mark.parametrize("name", ["bpr", "lightgcn", "cml", "vbpr", "content_cml", "cm3"])
def test_an_attached_index_answers_and_is_saved(tmp_path, planted_split, name):
    pytest.importorskip("faiss")
    live = recommender_for(name, planted_split)
    exact_items, exact_scores = live.recommend_batch(np.arange(30), 5)
    live.attach_index("Flat")
    user = str(planted_split.train.user_ids[4])
    assert live.recommend(user, 5).source == "index"
    items, scores = live.recommend_batch(np.arange(30), 5)
    assert (items == exact_items).mean() > 0.98  # Flat is exact; float ties may swap neighbours
    assert np.allclose(np.sort(scores, 1), np.sort(exact_scores, 1), atol=1e-4)
    loaded = Recommender.load(live.save(tmp_path / "with-index"))
    assert loaded.index is not None and loaded.recommend(user, 5) == live.recommend(user, 5)
    assert Recommender.load(tmp_path / "with-index", with_index=False).recommend(user, 5).source == "exact"


@pytest.mark.parametrize("name", ["vbpr", "content_cml", "cm3"])
def test_new_items_join_a_content_model_without_training(tmp_path, planted_split, name):
    pytest.importorskip("faiss")
    live = recommender_for(name, planted_split)
    live.attach_index("Flat")
    before = live.model.item_vectors().numpy().copy()
    new_ids = ["new-a", "new-b", "new-c"]
    live.add_items(new_ids, content_features(3, seed=9))
    num_items = planted_split.train.num_items + 3
    assert live.model.item_vectors().shape[0] == num_items and len(live.index.item_ids) == num_items
    if name != "cm3":  # CM3 rebuilds its item graph, so old items may move
        assert np.array_equal(live.model.item_vectors().numpy()[: len(before)], before)
    everything = live.recommend(str(planted_split.train.user_ids[0]), num_items)
    assert set(new_ids) <= set(everything.items)
    assert len(live.similar_items("new-a", 3)) == 3
    assert live.recommend(None, 3, recent_items=["new-b"]).source == "item_to_item"
    loaded = Recommender.load(live.save(tmp_path / "grown"))
    user = str(planted_split.train.user_ids[2])
    assert loaded.recommend(user, num_items) == live.recommend(user, num_items)
    assert loaded.similar_items("new-c", 5) == live.similar_items("new-c", 5)
    with pytest.raises(ValueError, match="already in the catalog"):
        live.add_items(["new-a"], content_features(1))
    with pytest.raises(ValueError, match=r"features\[0\]"):
        live.add_items(["x"], [np.zeros((1, 5), np.float32), np.zeros((1, 6), np.float32)])


def test_models_without_content_refuse_new_items(planted_split):
    live = recommender_for("bpr", planted_split)
    with pytest.raises(ValueError, match="no content features"):
        live.add_items(["x"], content_features(1))


def test_unknown_items_and_bad_arguments_are_named(planted_split):
    live = recommender_for("bpr", planted_split)
    with pytest.raises(UnknownItemError, match="unknown item 'zzz'"):
        live.similar_items("zzz")
    with pytest.raises(ValueError, match="k: expected a positive integer"):
        live.recommend(str(planted_split.train.user_ids[0]), 0)
    with pytest.raises(ValueError, match="internal indices"):
        live.recommend_batch(np.array([10_000]))
    with pytest.raises(ValueError, match="known: shape"):
        Recommender(live.model, live.train, live.user_ids, live.item_ids, known=sp.csr_matrix((2, 2)))


def test_run_experiment_saves_the_folder_format(tmp_path, planted_split):
    config = TrainConfig(model="bpr", dim=8, epochs=3, batch_size=256, lr=0.05)
    result = run_experiment(planted_split, config, tmp_path, progress=False)
    assert result.artifact == str(tmp_path / RECOMMENDER_DIR)
    recommender = Recommender.load(result.artifact)
    assert set(recommender.protocol) >= {"split", "seed", "split_checksum", "candidates", "ks", "model"}
    user = planted_split.train.user_ids[0]
    answer = recommender.recommend(user, k=5)
    assert len(answer.items) == 5 and all(item.startswith("i") for item in answer.items)


class _Recorder:
    def __init__(self):
        self.calls = []

    def on_fit_start(self, params):
        self.calls.append(("start", params["model"]))

    def on_epoch_end(self, epoch, logs):
        self.calls.append(("epoch", epoch))

    def on_fit_end(self, final_metrics, protocol, artifact_dir):
        ndcg = round(final_metrics["ndcg@10"], 6)
        self.calls.append(("end", ndcg, protocol["protocol.split"], artifact_dir))

    def on_fit_error(self, error):
        self.calls.append(("error", str(error)))


@pytest.mark.parametrize("model", ["pop", "bpr"])
def test_callbacks_hear_start_and_end_for_every_model(tmp_path, planted_split, model):
    recorder = _Recorder()
    config = TrainConfig(model=model, dim=8, epochs=2, batch_size=256)
    result = run_experiment(planted_split, config, tmp_path, callbacks=[recorder], progress=False)
    assert recorder.calls[0][0] == "start"
    ending = ("end", round(result.metrics["ndcg@10"], 6), "random", tmp_path / RECOMMENDER_DIR)
    assert recorder.calls[-1] == ending
    assert sum(kind == "epoch" for kind, *_ in recorder.calls) == (2 if model == "bpr" else 0)


def test_loading_a_graph_model_prints_no_sparse_beta_warning(tmp_path, planted_split):
    """The warning fires once per process, so it is checked in a fresh one."""
    import subprocess
    import sys

    path = recommender_for("lightgcn", planted_split).save(tmp_path / "lightgcn")
    code = f"from recsys.recommender import Recommender; Recommender.load({str(path)!r}).recommend('u1', 3)"
    out = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=True
    )
    assert "beta" not in out.stderr and "invariant" not in out.stderr, out.stderr


@pytest.mark.parametrize("name", ["pop", "itemknn", "bpr", "cml"])
def test_score_items_agrees_with_recommend(planted_split, name):
    live = recommender_for(name, planted_split)
    user = str(planted_split.train.user_ids[3])
    top = live.recommend(user, 5)
    scores, source = live.score_items(user, [*reversed(top.items), "not-an-item"])
    assert source == "exact" and scores[-1] == -np.inf
    assert np.allclose(scores[:-1][::-1], top.scores, rtol=1e-5, atol=1e-6)
    recent = [str(planted_split.train.item_ids[i]) for i in (1, 2)]
    anonymous = live.recommend(None, 3, recent_items=recent)
    scores, source = live.score_items(None, anonymous.items, recent_items=recent)
    assert source == anonymous.source and np.allclose(scores, anonymous.scores, rtol=1e-5, atol=1e-6)
    assert live.score_items("ghost", anonymous.items)[1] == "popularity"
