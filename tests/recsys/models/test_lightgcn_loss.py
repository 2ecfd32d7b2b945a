"""LightGCN's loss: the L2 term summed by row counts equals the library's gathered one, value and
gradient."""

from __future__ import annotations

import pytest
import torch

from recsys.models.lightgcn import LightGCN, batch_l2


def _library_loss(model: LightGCN, users, pos, neg) -> torch.Tensor:
    """The loss as torch_geometric computes it: BPR plus L2 over the gathered rows of the batch."""
    user_emb, item_emb = model.propagate()
    u = user_emb[users]
    pos_rank = (u * item_emb[pos]).sum(-1)
    neg_rank = torch.einsum("bd,bnd->bn", u, item_emb[neg])
    node_id = torch.cat([users, pos + model.num_users, neg.reshape(-1) + model.num_users])
    return model.gcn.recommendation_loss(
        pos_rank.repeat_interleave(neg.shape[1]), neg_rank.reshape(-1), node_id=node_id, lambda_reg=model.reg
    )


def test_loss_and_gradient_equal_the_librarys(planted_split):
    train = planted_split.train
    torch.manual_seed(0)
    model = LightGCN(train.num_users, train.num_items, train.to_csr(), dim=8, num_layers=2, reg=0.05)
    generator = torch.Generator().manual_seed(1)
    users = torch.randint(0, train.num_users, (64,), generator=generator)  # repeats on purpose
    pos = torch.randint(0, train.num_items, (64,), generator=generator)
    neg = torch.randint(0, train.num_items, (64, 3), generator=generator)
    weight = model.gcn.embedding.weight
    ours = model.loss(users, pos, neg)
    (grad_ours,) = torch.autograd.grad(ours, weight)
    theirs = _library_loss(model, users, pos, neg)
    (grad_theirs,) = torch.autograd.grad(theirs, weight)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad_ours, grad_theirs, rtol=1e-5, atol=1e-7)


def test_batch_l2_counts_repeated_rows():
    weight = torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 0.5]])
    node_id = torch.tensor([0, 1, 1, 0, 1])
    assert batch_l2(weight, node_id).item() == 2 * 5.0 + 3 * 9.0  # rows 0 twice, 1 three times, 2 never
    assert batch_l2(weight, node_id).item() == pytest.approx(weight[node_id].norm().pow(2).item())


def test_no_l2_term_without_regularisation(planted_split):
    train = planted_split.train
    model = LightGCN(train.num_users, train.num_items, train.to_csr(), dim=8, num_layers=1, reg=0.0)
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([[4], [5]])
    torch.testing.assert_close(model.loss(users, pos, neg), _library_loss(model, users, pos, neg))
