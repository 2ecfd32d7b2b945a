"""Uncertainty-based sample filtering (after "Mirroring Users", which keeps the training samples the
base model is least sure about): the base model's choice between the chosen and the rejected
completion is ``p = σ(log π(c) − log π(r))``; its entropy ``H(p)`` is highest where the model cannot
tell them apart, and those pairs carry the most signal for preference training.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def choice_entropy(chosen_logps: torch.Tensor, rejected_logps: torch.Tensor) -> torch.Tensor:
    """(N,) entropy in nats of the two-way choice p = σ(log π(c) − log π(r)); ln 2 at a tie."""
    margin = chosen_logps - rejected_logps  # (N,)
    log_p, log_q = F.logsigmoid(margin), F.logsigmoid(-margin)
    return -(log_p.exp() * log_p + log_q.exp() * log_q)


def most_uncertain(entropy: torch.Tensor, fraction: float) -> np.ndarray:
    """Indices (ascending) of the ``fraction`` of samples with the highest entropy (at least one)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    keep = max(1, int(round(fraction * len(entropy))))
    order = torch.argsort(entropy, descending=True, stable=True)[:keep]
    return np.sort(order.numpy())
