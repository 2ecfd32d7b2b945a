"""Preference losses TRL 1.16 does not have, as pure functions of log-probabilities.

- **BCO** (Jung et al., "Binary Classifier Optimization for Large Language Model Alignment"): the
  implicit reward ``r = β·(log π(y|x) − log π_ref(y|x))`` is the logit of a binary classifier,
  ``−log σ(r − δ)`` for a desirable completion and ``−log σ(−(r − δ))`` for an undesirable one, with
  the reward shift δ the running mean of the rewards seen so far (:class:`RewardShift`).
- **LiPO-λ** (Liu et al., "LiPO: Listwise Preference Optimization through Learning-to-Rank"): a list
  of completions scored ``s_i = β·(log π(y_i|x) − log π_ref(y_i|x))`` with graded relevance ψ, loss
  ``Σ_{ψ_i>ψ_j} Δ_ij · log(1 + exp(−(s_i − s_j)))``, lambda weights
  ``Δ_ij = |G_i − G_j| · |1/D(τ_i) − 1/D(τ_j)|``, ``G = 2^ψ − 1``, ``D(τ) = log(1 + τ)`` (natural log;
  base 2 would only rescale every weight by ln 2) and τ the 1-based rank under the current scores.
- **CUT** (Xu et al., "Reasons to Reject? Aligning Language Models with Judgments"): a completion
  with a negative judgment is scored with the judgment in the prompt (plain likelihood) and
  without it; tokens whose probability rises by more than a factor λ once the judgment is shown
  are the inappropriate part and get the unlikelihood loss ``−α·log(1 − p)``, the other tokens
  plain likelihood. A completion with a positive judgment gets plain likelihood.

Everything here takes tensors and returns tensors; the trainers compute the log-probabilities.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# --- BCO ---------------------------------------------------------------------------------------


class RewardShift:
    """The running mean δ of every reward seen so far (BCO's reward shift, §3.2 of the paper).

    The mean is count-weighted over all rewards of all batches, so it does not depend on how the
    data was batched. ``state()`` / ``load_state()`` carry it across a checkpoint.
    """

    def __init__(self) -> None:
        self.mean = 0.0
        self.count = 0

    def update(self, rewards: torch.Tensor) -> float:
        """Fold a batch of rewards (any shape) into the mean and return the new δ."""
        n = rewards.numel()
        if n:
            batch_mean = float(rewards.detach().float().mean())
            self.count += n
            self.mean += (batch_mean - self.mean) * n / self.count
        return self.mean

    def state(self) -> dict[str, float | int]:
        return {"mean": self.mean, "count": self.count}

    def load_state(self, state: dict[str, float | int]) -> None:
        self.mean = float(state["mean"])
        self.count = int(state["count"])


def implicit_rewards(policy_logps: torch.Tensor, ref_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """``β·(log π − log π_ref)`` for per-sequence log-probs of any shape."""
    return beta * (policy_logps - ref_logps)


def bco_loss(
    policy_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    desirable: torch.Tensor,
    beta: float,
    delta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BCO's unpaired binary-classifier loss.

    Args:
        policy_logps: (B,) summed completion log-probs under the policy.
        ref_logps: (B,) the same under the reference model.
        desirable: (B,) bool, True for desirable completions.
        beta: reward scale β.
        delta: reward shift δ (a running mean of rewards, see :class:`RewardShift`).

    Returns:
        The mean loss over the batch (scalar) and the rewards r (B,).
    """
    rewards = implicit_rewards(policy_logps, ref_logps, beta)  # (B,)
    margin = rewards - delta  # (B,)
    # −log σ(m) for desirable, −log σ(−m) for undesirable: one logsigmoid with a sign.
    sign = desirable.to(rewards.dtype) * 2 - 1  # (B,) +1 / −1
    losses = -F.logsigmoid(sign * margin)  # (B,)
    return losses.mean(), rewards


# --- LiPO-λ --------------------------------------------------------------------------------------


def ranks(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """1-based rank of each entry under descending scores, per row; padded entries rank last.

    Args:
        scores: (B, K).
        mask: (B, K) bool, True for real list entries (all True when None).

    Returns:
        (B, K) long ranks; ties keep list order.
    """
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    order = torch.argsort(scores, dim=1, descending=True, stable=True)  # (B, K) position -> entry
    positions = torch.arange(1, scores.shape[1] + 1, device=scores.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, positions)  # (B, K) entry -> rank


def lambda_weights(relevance: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
    """LiPO's lambda weights ``Δ_ij = |G_i − G_j| · |1/D(τ_i) − 1/D(τ_j)|``.

    Args:
        relevance: (B, K) graded relevance ψ.
        rank: (B, K) 1-based ranks τ.

    Returns:
        (B, K, K) weights, symmetric, zero on the diagonal.
    """
    gain = torch.pow(2.0, relevance) - 1  # (B, K)  G = 2^ψ − 1
    inverse_discount = 1.0 / torch.log1p(rank.to(relevance.dtype))  # (B, K)  1/D(τ)
    gain_gap = (gain[:, :, None] - gain[:, None, :]).abs()  # (B, K, K)
    discount_gap = (inverse_discount[:, :, None] - inverse_discount[:, None, :]).abs()  # (B, K, K)
    return gain_gap * discount_gap


def lipo_lambda_loss(
    scores: torch.Tensor,
    relevance: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """LiPO-λ: lambda-weighted pairwise logistic loss over each list, summed per list, mean over lists.

    Args:
        scores: (B, K) s_i = β·(log π(y_i|x) − log π_ref(y_i|x)).
        relevance: (B, K) graded relevance ψ (higher is better).
        mask: (B, K) bool, True for real list entries (lists may be padded to K).

    Returns:
        Scalar loss. The weights come from the ranks of the current scores and are held constant
        in the gradient (the paper's §4: λ is a weight, not a function to differentiate).
    """
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    with torch.no_grad():
        weights = lambda_weights(relevance, ranks(scores.detach(), mask))  # (B, K, K)
        better = relevance[:, :, None] > relevance[:, None, :]  # (B, K, K)  ψ_i > ψ_j
        valid = mask[:, :, None] & mask[:, None, :]  # (B, K, K)
        weights = weights * (better & valid)
    gaps = scores[:, :, None] - scores[:, None, :]  # (B, K, K)  s_i − s_j
    pair_losses = F.softplus(-gaps)  # log(1 + e^{−(s_i − s_j)})
    return (weights * pair_losses).sum(dim=(1, 2)).mean()


# --- CUT -----------------------------------------------------------------------------------------


def cut_token_mask(
    plain_logps: torch.Tensor,
    judged_logps: torch.Tensor,
    mask: torch.Tensor,
    threshold: float,
) -> torch.Tensor:
    """Tokens whose probability rises by more than a factor λ when the judgment is shown.

    Args:
        plain_logps: (B, T) log p(y_t | y_<t, x) per completion token.
        judged_logps: (B, T) log p(y_t | y_<t, x, j) for the same tokens.
        mask: (B, T) bool, True for real completion tokens.
        threshold: λ > 1; a token is inappropriate when ``p_judged > λ · p_plain``.

    Returns:
        (B, T) bool mask of the inappropriate tokens (no gradient).
    """
    rise = (judged_logps - plain_logps).detach()  # (B, T)  log(p_judged / p_plain)
    return (rise > math.log(threshold)) & mask


def cut_loss(
    plain_logps: torch.Tensor,
    judged_logps: torch.Tensor,
    mask: torch.Tensor,
    negative: torch.Tensor,
    threshold: float,
    alpha: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CUT: likelihood, judged likelihood and token-level unlikelihood, averaged over all token terms.

    For a positive row, each completion token contributes ``−log p_plain`` (one term). For a negative
    row, each token contributes ``−log p_judged`` (the response fits the context that contains its
    judgment) and, from the plain context, ``−α·log(1 − p_plain)`` if it is inappropriate (see
    :func:`cut_token_mask`) else ``−log p_plain`` (two terms). The loss is the sum of all terms
    divided by their number.

    Args:
        plain_logps: (B, T) per-token log-probs of the completion without the judgment.
        judged_logps: (B, T) the same with the judgment in the prompt (ignored for positive rows).
        mask: (B, T) bool, True for real completion tokens.
        negative: (B,) bool, True for rows with a negative judgment.
        threshold: λ, the probability-rise factor that marks a token inappropriate.
        alpha: weight α of the unlikelihood term.

    Returns:
        The scalar loss and the (B, T) inappropriate-token mask.
    """
    negative_tokens = mask & negative[:, None]  # (B, T)
    inappropriate = cut_token_mask(plain_logps, judged_logps, negative_tokens, threshold)  # (B, T)
    # log(1 − p) with p = exp(logp) < 1; clamped so that a token of probability ~1 stays finite.
    log_one_minus_p = torch.log1p(-plain_logps.exp().clamp(max=1 - 1e-6))  # (B, T)
    plain_terms = torch.where(inappropriate, -alpha * log_one_minus_p, -plain_logps)  # (B, T)
    total = (plain_terms * mask).sum() + (-judged_logps * negative_tokens).sum()
    count = mask.sum() + negative_tokens.sum()
    return total / count.clamp(min=1), inappropriate
