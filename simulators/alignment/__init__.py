"""Preference alignment of small causal LMs: our own losses (BCO, LiPO-λ, CUT) and trainers.

Only the losses are imported here; the trainers, which import transformers/peft, are imported from
their modules (``simulators.alignment.bco_trainer`` ...), so ``import simulators`` stays light.
"""

from simulators.alignment.losses import (
    RewardShift,
    bco_loss,
    cut_loss,
    cut_token_mask,
    implicit_rewards,
    lambda_weights,
    lipo_lambda_loss,
    ranks,
)

__all__ = [
    "RewardShift",
    "bco_loss",
    "cut_loss",
    "cut_token_mask",
    "implicit_rewards",
    "lambda_weights",
    "lipo_lambda_loss",
    "ranks",
]
