import pytest
import torch

from recsys.models.bpr import BPR, BPRLoss, bpr_loss_reference


def _tables(seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    user_weight = torch.randn(7, 5, generator=g, dtype=dtype, requires_grad=True)
    item_weight = torch.randn(11, 5, generator=g, dtype=dtype, requires_grad=True)
    return user_weight, item_weight, g


@pytest.mark.parametrize("negatives", [1, 3])
def test_hand_written_gradient_matches_autograd_reference(negatives):
    user_weight, item_weight, g = _tables(0)
    users = torch.tensor([0, 3, 3, 6, 1, 0])  # repeated users and items: gradients must accumulate
    items = torch.randint(11, (6, 1 + negatives), generator=g)
    items[1, 0] = items[2, 0]
    reg = 0.05
    fused = BPRLoss.apply(user_weight, item_weight, users, items, reg)
    grads = torch.autograd.grad(fused, (user_weight, item_weight))
    reference = bpr_loss_reference(user_weight, item_weight, users, items, reg)
    expected = torch.autograd.grad(reference, (user_weight, item_weight))
    torch.testing.assert_close(fused, reference)
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want)
    assert grads[0][2].abs().sum() == 0  # a user outside the batch gets no gradient (reg included)


def test_gradcheck_with_incoming_gradient():
    user_weight, item_weight, g = _tables(1)
    users = torch.tensor([2, 4, 4])
    items = torch.randint(11, (3, 3), generator=g)
    assert torch.autograd.gradcheck(
        lambda uw, iw: 3.0 * BPRLoss.apply(uw, iw, users, items, 0.1), (user_weight, item_weight)
    )


def test_model_loss_trains_like_the_reference_formula():
    torch.manual_seed(0)
    model = BPR(9, 13, dim=4, reg=1e-2)
    reference = BPR(9, 13, dim=4, reg=1e-2)
    reference.load_state_dict(model.state_dict())
    users, pos = torch.tensor([0, 1, 8, 8]), torch.tensor([2, 3, 12, 0])
    neg = torch.tensor([[5], [6], [7], [5]])
    for m, loss_fn in (
        (model, model.loss),
        (reference, lambda u, p, n: bpr_loss_reference(
            reference.user_embedding.weight, reference.item_embedding.weight, u,
            torch.cat([p.unsqueeze(1), n], 1), reference.reg)),
    ):
        opt = torch.optim.Adam(m.parameters(), lr=0.1)
        for _ in range(5):
            opt.zero_grad()
            loss_fn(users, pos, neg).backward()
            opt.step()
    torch.testing.assert_close(model.user_embedding.weight, reference.user_embedding.weight)
    torch.testing.assert_close(model.item_embedding.weight, reference.item_embedding.weight)
