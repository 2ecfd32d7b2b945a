"""BCO, LiPO-λ and CUT against values computed by hand from the papers' equations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from simulators.alignment.losses import (
    RewardShift,
    bco_loss,
    cut_loss,
    cut_token_mask,
    lambda_weights,
    lipo_lambda_loss,
    ranks,
)


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


# --- BCO -----------------------------------------------------------------------------------------


def test_bco_loss_matches_hand_computed_values():
    policy = torch.tensor([-10.0, -12.0, -8.0])
    ref = torch.tensor([-11.0, -11.0, -8.0])
    desirable = torch.tensor([True, False, True])
    beta, delta = 0.5, 0.1
    loss, rewards = bco_loss(policy, ref, desirable, beta, delta)
    # r = β·(logπ − logπ_ref) = 0.5·(1, −1, 0)
    assert rewards.tolist() == pytest.approx([0.5, -0.5, 0.0])
    expected = (
        -(
            log_sigmoid(0.5 - 0.1)  # desirable: −log σ(r − δ)
            + log_sigmoid(-(-0.5 - 0.1))  # undesirable: −log σ(−(r − δ))
            + log_sigmoid(0.0 - 0.1)
        )
        / 3
    )
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_bco_gradient_pushes_desirable_up_and_undesirable_down():
    policy = torch.tensor([-5.0, -5.0], requires_grad=True)
    loss, _ = bco_loss(policy, torch.tensor([-5.0, -5.0]), torch.tensor([True, False]), 1.0, 0.0)
    loss.backward()
    assert policy.grad[0] < 0 < policy.grad[1]  # descent raises the desirable log-prob, lowers the other


def test_reward_shift_is_the_running_mean_of_all_rewards():
    shift = RewardShift()
    assert shift.update(torch.tensor([1.0, 3.0])) == pytest.approx(2.0)
    assert shift.update(torch.tensor([8.0])) == pytest.approx(4.0)  # (1 + 3 + 8) / 3
    restored = RewardShift()
    restored.load_state(shift.state())
    assert restored.update(torch.tensor([0.0])) == pytest.approx(3.0)  # 12 / 4


# --- LiPO-λ --------------------------------------------------------------------------------------


def test_ranks_follow_descending_scores_and_put_padding_last():
    scores = torch.tensor([[0.1, 0.9, 0.5], [2.0, 7.0, 1.0]])
    mask = torch.tensor([[True, True, True], [True, False, True]])
    assert ranks(scores, mask).tolist() == [[3, 1, 2], [1, 3, 2]]


def test_lipo_three_item_list_matches_hand_computed_value():
    scores = torch.tensor([[0.2, 0.5, -0.1]])
    relevance = torch.tensor([[2.0, 1.0, 0.0]])
    # ranks under the scores: item 1 first (0.5), item 0 second (0.2), item 2 third (−0.1)
    tau = {0: 2, 1: 1, 2: 3}
    gain = {i: 2.0 ** relevance[0, i].item() - 1 for i in range(3)}  # 3, 1, 0
    s = scores[0].tolist()
    expected = 0.0
    for i, j in [(0, 1), (0, 2), (1, 2)]:  # every pair with ψ_i > ψ_j
        weight = abs(gain[i] - gain[j]) * abs(1 / math.log(1 + tau[i]) - 1 / math.log(1 + tau[j]))
        expected += weight * math.log1p(math.exp(-(s[i] - s[j])))
    assert lipo_lambda_loss(scores, relevance).item() == pytest.approx(expected, rel=1e-6)


def test_lambda_weights_are_symmetric_with_zero_diagonal():
    weights = lambda_weights(torch.tensor([[3.0, 1.0, 2.0]]), torch.tensor([[1, 2, 3]]))
    assert torch.allclose(weights, weights.transpose(1, 2))
    assert torch.all(weights[0].diagonal() == 0)


@pytest.mark.parametrize("margin", [-1.3, 0.0, 0.7])
def test_lipo_on_two_items_is_dpo_sigmoid_times_a_constant(margin):
    beta = 0.1
    chosen_policy, rejected_policy = torch.tensor([-20.0]), torch.tensor([-20.0 - margin / beta])
    chosen_ref, rejected_ref = torch.tensor([-20.0]), torch.tensor([-20.0])
    # DPO's sigmoid loss: −log σ(β·((logπ_c − logπ_ref,c) − (logπ_r − logπ_ref,r)))
    dpo = -F.logsigmoid(beta * ((chosen_policy - chosen_ref) - (rejected_policy - rejected_ref)))
    scores = beta * torch.stack([chosen_policy - chosen_ref, rejected_policy - rejected_ref], dim=1)
    relevance = torch.tensor([[1.0, 0.0]])
    # Two items hold ranks 1 and 2 in some order, so Δ = |G_c − G_r|·|1/ln 2 − 1/ln 3| whatever the scores.
    weight = (2**1 - 1 - (2**0 - 1)) * (1 / math.log(2) - 1 / math.log(3))
    assert lipo_lambda_loss(scores, relevance).item() == pytest.approx(weight * dpo.item(), rel=1e-6)


def test_lipo_ignores_padding_and_ties_and_holds_weights_constant():
    scores = torch.tensor([[0.3, -0.2, 5.0, 0.1]], requires_grad=True)
    relevance = torch.tensor([[1.0, 0.0, 3.0, 1.0]])
    mask = torch.tensor([[True, True, False, True]])  # the third entry is padding
    loss = lipo_lambda_loss(scores, relevance, mask)
    loss.backward()
    assert scores.grad[0, 2] == 0  # padding gets no gradient
    # With padding removed the list is [0.3, −0.2, 0.1] with ψ [1, 0, 1]: the tie (0, 3) is no pair.
    same = lipo_lambda_loss(torch.tensor([[0.3, -0.2, 0.1]]), torch.tensor([[1.0, 0.0, 1.0]]))
    assert loss.item() == pytest.approx(same.item(), rel=1e-6)
    # The weights carry no gradient: d loss / d s equals the weighted logistic gradient alone.
    # Ranks under the scores: 0.3 → 1, 0.1 → 2, −0.2 → 3; pairs (0, 1) and (3, 1).
    s = [0.3, -0.2, 0.1]
    w01 = 1 * abs(1 / math.log(2) - 1 / math.log(4))
    w31 = 1 * abs(1 / math.log(3) - 1 / math.log(4))
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert scores.grad[0, 0].item() == pytest.approx(-w01 * sig(-(s[0] - s[1])), rel=1e-5)
    assert scores.grad[0, 3].item() == pytest.approx(-w31 * sig(-(s[2] - s[1])), rel=1e-5)


# --- CUT -----------------------------------------------------------------------------------------


def probs(*values: float) -> torch.Tensor:
    return torch.tensor([values]).log()


def test_cut_mask_marks_tokens_that_rise_by_more_than_lambda():
    plain = probs(0.10, 0.50, 0.20, 0.30)
    judged = probs(0.13, 0.50, 0.21, 0.90)  # ratios 1.3, 1.0, 1.05, 3.0
    mask = torch.tensor([[True, True, True, False]])  # the last token is padding
    assert cut_token_mask(plain, judged, mask, threshold=1.1).tolist() == [[True, False, False, False]]
    assert cut_token_mask(plain, judged, mask, threshold=1.4).tolist() == [[False, False, False, False]]


def test_cut_loss_matches_hand_computed_value():
    plain = torch.cat([probs(0.10, 0.50, 0.20), probs(0.40, 0.60, 0.5)])
    judged = torch.cat([probs(0.13, 0.50, 0.21), probs(0.90, 0.90, 0.9)])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    negative = torch.tensor([True, False])
    alpha, threshold = 0.5, 1.2
    loss, inappropriate = cut_loss(plain, judged, mask, negative, threshold, alpha)
    # Row 0 is negative: token 0 rose ×1.3 > 1.2 (unlikelihood), tokens 1, 2 did not (likelihood),
    # and all three get the judged likelihood. Row 1 is positive: plain likelihood on its 2 tokens;
    # its judged scores are ignored even though they rose.
    assert inappropriate.tolist() == [[True, False, False], [False, False, False]]
    terms = [
        -alpha * math.log(1 - 0.10),
        -math.log(0.50),
        -math.log(0.20),  # row 0, without the judgment
        -math.log(0.13),
        -math.log(0.50),
        -math.log(0.21),  # row 0, with it
        -math.log(0.40),
        -math.log(0.60),  # row 1
    ]
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-6)


def test_cut_unlikelihood_pushes_inappropriate_tokens_down():
    plain = probs(0.3, 0.3).requires_grad_()
    judged = probs(0.9, 0.3)
    loss, _ = cut_loss(plain, judged, torch.ones(1, 2, dtype=torch.bool), torch.tensor([True]), 1.2, 1.0)
    loss.backward()
    assert plain.grad[0, 0] > 0  # descent lowers the inappropriate token's log-prob
    assert plain.grad[0, 1] < 0  # and raises the other one's
