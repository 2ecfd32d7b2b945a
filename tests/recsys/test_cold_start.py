import numpy as np
import pytest
import torch

from recsys.cold_start import cold_item_split, content_knn_scores, evaluate_cold, fit_cold, random_scores
from recsys.models.content_cml import ContentCML
from recsys.synthetic import make_interactions


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and the 2-core machine is shared."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def planted():
    data, truth = make_interactions(200, 100, events_per_user=15, seed=5)
    rng = np.random.default_rng(5)
    features = truth["item_factors"] + 0.2 * rng.normal(size=truth["item_factors"].shape)
    return data, features.astype(np.float32)


def test_split_holds_out_items_entirely():
    data, _ = planted()
    split = cold_item_split(data, cold_fraction=0.2, valid_fraction=0.1, seed=2026)
    assert len(split.test_items) == 20 and len(split.valid_items) == 10 and split.num_warm == 70
    assert sorted(split.item_order.tolist()) == list(range(100))
    assert split.train.items.max() < 70 and split.train.num_items == 70
    assert set(split.test.items.tolist()) <= set(split.test_items.tolist())
    assert set(split.valid.items.tolist()) <= set(split.valid_items.tolist())
    assert len(split.train) + len(split.valid) + len(split.test) == len(data)
    # Original ids follow the re-ordering.
    old = split.item_order[split.test.items[:5]]
    assert (data.item_ids[old] == split.test.item_ids[split.test.items[:5]]).all()
    assert split.train_matrix().shape == (200, 100)


def test_oracle_random_and_content_knn():
    data, features = planted()
    split = cold_item_split(data, seed=1)
    truth = split.test.to_csr().toarray()
    oracle = evaluate_cold(lambda u: truth[u], split).metrics
    assert oracle["recall@20"] == 1.0
    rand = evaluate_cold(random_scores(100, seed=0), split).metrics
    knn = evaluate_cold(content_knn_scores(split.train, features[split.item_order]), split).metrics
    assert knn["ndcg@10"] > rand["ndcg@10"] + 0.05


def test_fit_cold_selects_on_cold_validation():
    data, features = planted()
    split = cold_item_split(data, seed=1)
    torch.manual_seed(0)
    model = ContentCML(data.num_users, data.num_items, [features[split.item_order]], dim=8, hidden=32)
    info = fit_cold(model, split, epochs=20, eval_every=5, num_negatives=10, lr=1e-2, batch_size=512)
    assert info["best_epoch"] in (5, 10, 15, 20) and len(info["history"]) >= 1
    score = evaluate_cold(lambda u: model.scores(torch.from_numpy(u)), split).metrics["ndcg@10"]
    rand = evaluate_cold(random_scores(100, seed=0), split).metrics["ndcg@10"]
    assert score > rand


@pytest.mark.parametrize(("cold", "valid"), [(0.9, 0.5), (0.5, -0.2), (1.5, 0.0), (0.0, 0.1), (0.5, 0.5)])
def test_fractions_out_of_range_are_refused(cold, valid):
    data, _ = planted()
    with pytest.raises(ValueError, match="need 0 < cold_fraction"):
        cold_item_split(data, cold_fraction=cold, valid_fraction=valid)


def test_fractions_in_range_are_accepted():
    data, _ = planted()
    split = cold_item_split(data, cold_fraction=0.5, valid_fraction=0.0)
    assert len(split.test_items) == 50 and len(split.valid_items) == 0
