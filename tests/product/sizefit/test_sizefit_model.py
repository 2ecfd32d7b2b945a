import numpy as np
import pytest
import torch

from product.sizefit.features import build_feature_space, encode_labels, encode_rows
from product.sizefit.model import LatentSizeNet, ordinal_log_proba


@pytest.fixture(scope="module")
def batch(shop):
    frame = shop.frame.iloc[:400].reset_index(drop=True)
    signals = np.random.default_rng(0).dirichlet(np.ones(4), size=400).astype(np.float32)
    space = build_feature_space(frame, signals)
    x = encode_rows(space, frame, self_rows=np.arange(400))
    net = LatentSizeNet(
        num_products=len(space.products),
        num_categories=len(space.categories),
        num_body_types=len(space.body_types),
        num_profile=x.profile.shape[1],
        num_product_dense=space.num_product_dense,
        review_dim=space.review_dim,
    )
    return net, x, encode_labels(frame), torch.from_numpy(signals[:, :3])


def test_probabilities_are_distributions(batch):
    net, x, _, _ = batch
    proba = net.log_proba(x).exp()
    assert proba.shape == (len(x), 3)
    assert torch.allclose(proba.sum(1), torch.ones(len(x)), atol=1e-5) and (proba >= 0).all()


def test_ordinal_structure():
    z = torch.linspace(-5, 5, 11)
    proba = ordinal_log_proba(z, torch.tensor([-1.0, 1.0])).exp()
    assert (proba[:, 0].diff() < 0).all() and (
        proba[:, 2].diff() > 0
    ).all()  # larger z: less small, more large
    assert proba[5, 1] == proba[:, 1].max()  # fit peaks between the cut-points


def test_a_larger_size_scores_larger(batch):
    net, x, _, _ = batch
    bigger = x.select(torch.arange(len(x)))
    bigger.step = x.step + 1
    assert (net.score(bigger) > net.score(x)).all()


def test_loss_is_finite_and_a_step_changes_parameters(batch):
    net, x, y, target = batch
    weight = torch.tensor([1.5, 0.6, 2.0])
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    loss = net.loss(x, y, weight, l2_product=1.0, review_target=target, review_weight=1.0)
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    for name in ("product_offset.weight", "label_shift", "review_shift.weight", "cut_low", "log_kappa"):
        assert not torch.equal(before[name], dict(net.named_parameters())[name]), name


def test_no_reviews_means_no_review_weights(shop):
    space = build_feature_space(shop.frame.iloc[:100])
    assert space.review_dim == 0
    net = LatentSizeNet(
        len(space.products), len(space.categories), len(space.body_types), 16, space.num_product_dense, 0
    )
    assert net.review_shift is None
