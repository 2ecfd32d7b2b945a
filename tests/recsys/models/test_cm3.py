import numpy as np
import pytest
import torch

from recsys.evaluate import evaluate_scores
from recsys.models.cm3 import CM3, CM3Config, slerp, spherical_bezier
from recsys.models.popularity import MostPopular
from recsys.splits import make_split
from recsys.synthetic import make_interactions
from recsys.train import fit


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and the 2-core machine is shared."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def planted(num_users=150, num_items=80, seed=0):
    data, truth = make_interactions(num_users, num_items, events_per_user=12, seed=seed)
    rng = np.random.default_rng(seed)
    factors = truth["item_factors"]  # (I, 8)
    text = factors @ rng.normal(size=(8, 24)) + 0.3 * rng.normal(size=(num_items, 24))
    image = factors @ rng.normal(size=(8, 12)) + 0.6 * rng.normal(size=(num_items, 12))
    return data, [text.astype(np.float32), image.astype(np.float32)]


def test_slerp_endpoints_and_bezier_on_sphere():
    torch.manual_seed(0)
    p, q, r = (torch.nn.functional.normalize(torch.randn(5, 7), dim=-1) for _ in range(3))
    torch.testing.assert_close(slerp(p, q, torch.zeros(5, 1)), p, atol=1e-5, rtol=0)
    torch.testing.assert_close(slerp(p, q, torch.ones(5, 1)), q, atol=1e-5, rtol=0)
    mid = slerp(p, q, torch.full((5, 1), 0.5))
    torch.testing.assert_close((mid * p).sum(-1), (mid * q).sum(-1), atol=1e-5, rtol=0)  # equidistant
    fused = spherical_bezier([p, q, r], torch.rand(5, 1))
    torch.testing.assert_close(fused.norm(dim=-1), torch.ones(5), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("fusion", "calibrated"), [("bezier", True), ("concat", True), ("bezier", False)])
def test_loss_step_changes_parameters(fusion, calibrated):
    data, features = planted()
    torch.manual_seed(0)
    model = CM3(
        data.num_users,
        data.num_items,
        data.to_csr(),
        features,
        CM3Config(dim=8, fusion=fusion, calibrated=calibrated),
    )
    before = [p.detach().clone() for p in model.parameters()]
    users, pos = torch.from_numpy(data.users[:64]), torch.from_numpy(data.items[:64])
    neg = torch.randint(data.num_items, (64, 1))
    loss = model.loss(users, pos, neg)
    assert torch.isfinite(loss)
    loss.backward()
    torch.optim.Adam(model.parameters(), lr=1e-2).step()
    changed = [not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(), strict=True)]
    assert all(changed)
    model.eval()
    scores = model.scores(torch.arange(4))
    assert scores.shape == (4, data.num_items)
    assert scores.abs().max() <= 1 + 1e-5  # cosine of unit vectors
    assert model.item_vectors().shape == (data.num_items, 3 * 8)


def test_bad_arguments():
    data, features = planted()
    with pytest.raises(ValueError, match="fusion"):
        CM3(data.num_users, data.num_items, data.to_csr(), features, CM3Config(fusion="sum"))
    with pytest.raises(ValueError, match="rows"):
        CM3(data.num_users, data.num_items, data.to_csr(), [features[0][:10]])


def test_beats_popularity_on_planted_data():
    data, features = planted(num_users=200, num_items=100, seed=1)
    split = make_split(data, "random", seed=1)
    torch.manual_seed(1)
    model = CM3(data.num_users, data.num_items, split.train.to_csr(), features, CM3Config(dim=16))
    fit(model, split.train, epochs=20, batch_size=512, lr=1e-2, progress=False)
    known = split.train.to_csr()
    ours = evaluate_scores(lambda u: model.scores(torch.from_numpy(u)), split.test, known).metrics
    pop = MostPopular(split.train)
    base = evaluate_scores(lambda u: pop.scores(torch.from_numpy(u)), split.test, known).metrics
    assert ours["ndcg@10"] > base["ndcg@10"]


def test_unnormalised_scores_are_cosine_times_norms():
    """normalize_scores=False (the authors' ranking) scores u.i with the same vectors the cosine
    scores divide by their norms; training (the loss) does not depend on the option."""
    data, features = planted()
    models = []
    for normalize in (True, False):
        torch.manual_seed(0)
        models.append(
            CM3(
                data.num_users,
                data.num_items,
                data.to_csr(),
                features,
                CM3Config(dim=8, normalize_scores=normalize),
            )
        )
    users, pos = torch.from_numpy(data.users[:64]), torch.from_numpy(data.items[:64])
    neg = torch.randint(data.num_items, (64, 1))
    losses = []
    for model in models:
        torch.manual_seed(1)  # same Bezier tau draw
        losses.append(model.loss(users, pos, neg))
    torch.testing.assert_close(losses[0], losses[1])
    cosine, raw = (model.eval() for model in models)
    u, i = raw.user_vectors()[:5], raw.item_vectors()  # (5, D), (I, D)
    assert not torch.allclose(i.norm(dim=-1), torch.ones(data.num_items))  # norms carry degree
    expected = raw.scores(torch.arange(5)) / u.norm(dim=-1, keepdim=True) / i.norm(dim=-1)
    torch.testing.assert_close(cosine.scores(torch.arange(5)), expected, atol=1e-5, rtol=1e-5)
