"""Per-position score offsets that remove a simulator's pull towards some display positions.

A listed prompt makes a small LM favour the first options whatever they are. On lists whose true
item sits at a uniformly random position, an unbiased simulator's argmax lands on each position
equally often. :func:`position_offsets` learns one additive offset per position on *training*
users' lists (never the held-out ones): it starts from minus each position's mean centred score and
then nudges the offsets until the argmax share of every position is 1/n on those lists.
"""

from __future__ import annotations

import numpy as np


def position_offsets(scores: np.ndarray, steps: int = 300, rate: float = 0.5) -> np.ndarray:
    """(n,) offsets to add to (B, n) scores so that each position is the argmax on 1/n of the rows.

    Args:
        scores: (B, n) raw option scores of training lists (higher = more likely chosen).
        steps: rate-matching iterations after the mean-centring start.
        rate: step size, in units of the scores' spread within a row.
    """
    if scores.ndim != 2 or scores.shape[0] < scores.shape[1]:
        raise ValueError(f"scores: expected (B, n) with B >= n training lists, got shape {scores.shape}")
    n = scores.shape[1]
    centred = scores - scores.mean(axis=1, keepdims=True)  # (B, n)
    offsets = -centred.mean(axis=0)  # (n,)
    spread = float(centred.std()) or 1.0
    best, best_gap = offsets.copy(), np.inf
    for step in range(steps):
        shares = np.bincount((centred + offsets).argmax(axis=1), minlength=n) / len(scores)
        gap = float(np.abs(shares - 1 / n).max())
        if gap < best_gap:
            best, best_gap = offsets.copy(), gap
        offsets = offsets + rate * spread * (1 / n - shares) / (1 + step) ** 0.5
    return best - best.mean()
