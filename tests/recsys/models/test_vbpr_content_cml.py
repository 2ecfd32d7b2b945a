import numpy as np
import pytest
import torch

from recsys.models.content_cml import ContentCML
from recsys.models.vbpr import VBPR
from recsys.synthetic import make_interactions


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and the 2-core machine is shared."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def tiny():
    data, truth = make_interactions(80, 40, events_per_user=8, seed=3)
    rng = np.random.default_rng(3)
    features = [truth["item_factors"].astype(np.float32), rng.normal(size=(40, 6)).astype(np.float32)]
    return data, features


@pytest.mark.parametrize(
    "make",
    [
        lambda d, f: VBPR(d.num_users, d.num_items, f, dim=8, content_dim=8),
        lambda d, f: ContentCML(d.num_users, d.num_items, f, dim=8, hidden=16),
    ],
)
def test_step_and_scores(make):
    data, features = tiny()
    torch.manual_seed(0)
    model = make(data, features)
    before = [p.detach().clone() for p in model.parameters()]
    loss = model.loss(
        torch.from_numpy(data.users[:32]), torch.from_numpy(data.items[:32]), torch.randint(40, (32, 5))
    )
    assert torch.isfinite(loss)
    loss.backward()
    torch.optim.Adam(model.parameters(), lr=1e-2).step()
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(), strict=True))
    model.eval()
    assert model.scores(torch.arange(3)).shape == (3, 40)
    assert model.item_vectors().shape[0] == 40


def test_vbpr_cold_items_use_content_only():
    data, features = tiny()
    id_items = np.arange(40) < 30
    model = VBPR(data.num_users, data.num_items, features, dim=8, content_dim=8, id_items=id_items)
    with torch.no_grad():
        model.item_embedding.weight[30:] = 100.0  # must not matter for cold items
        model.item_bias.weight[30:] = 100.0
    scores = model.scores(torch.arange(5))
    assert scores[:, 30:].abs().max() < 50


def test_content_cml_new_item_from_content_and_unit_ball():
    data, features = tiny()
    model = ContentCML(data.num_users, data.num_items, features, dim=8, hidden=16).eval()
    positions = model.item_vectors()
    assert (positions.norm(dim=-1) <= 1 + 1e-5).all()
    # Two items with identical content sit at the same place.
    model.features[1] = model.features[0]
    torch.testing.assert_close(model.item_vectors()[1], model.item_vectors()[0])
