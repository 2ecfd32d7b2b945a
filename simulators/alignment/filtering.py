"""Uncertainty-based sample filtering (after "Mirroring Users", which keeps the training samples the
base model is least sure about): the base model's choice between the chosen and the rejected
completion is ``p = σ(log π(c) − log π(r))``; its entropy ``H(p)`` is highest where the model cannot
tell them apart, and those pairs carry the most signal for preference training.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset


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


def keep_uncertain(
    pairs: Dataset, logps: tuple[torch.Tensor, torch.Tensor], fraction: float
) -> tuple[Dataset, dict[str, float]]:
    """The ``fraction`` of pairwise rows with the highest choice entropy, and what the filter did.

    Args:
        pairs: pairwise rows (``prompt, chosen, rejected``).
        logps: the base model's (N,) log π(chosen | prompt) and (N,) log π(rejected | prompt) on them.
        fraction: share of rows to keep, in (0, 1].

    Returns:
        The kept rows (in their original order) and a report: ``kept``, ``of``, the mean entropy
        (nats) of all rows and of the kept ones, and the base model's likelihood accuracy on both.
    """
    chosen, rejected = logps
    if len(chosen) != len(pairs) or len(rejected) != len(pairs):
        raise ValueError(f"logps: {len(chosen)}/{len(rejected)} values for {len(pairs)} pairs")
    entropy = choice_entropy(chosen, rejected)  # (N,)
    keep = most_uncertain(entropy, fraction)
    right = (chosen > rejected).float()  # (N,)
    report = {
        "kept": len(keep),
        "of": len(pairs),
        "entropy_all": float(entropy.mean()),
        "entropy_kept": float(entropy[keep].mean()),
        "base_accuracy_all": float(right.mean()),
        "base_accuracy_kept": float(right[keep].mean()),
    }
    return pairs.select(keep), report
