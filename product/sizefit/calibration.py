"""Calibrated probabilities and class decisions for an ordinal fit score, both set on held-out data.

Training weights the rare classes up, which skews the model's own probabilities. Two small fits
on validation records undo and use that:
- ``OrdinalCalibration``: a new scale and new cut-points for the score, fitted by unweighted
  log-likelihood (Platt scaling for three ordered classes), so P(small), P(fit), P(large) match
  observed frequencies;
- ``DecisionCuts``: the two score thresholds that maximise macro-F1, used to name a class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit


@dataclass(frozen=True)
class OrdinalCalibration:
    scale: float
    cut_small: float
    cut_large: float

    def proba(self, z: np.ndarray) -> np.ndarray:
        """P(small), P(fit), P(large) for scores z (N,): (N, 3)."""
        below_small = expit(self.cut_small - self.scale * z)
        below_large = expit(self.cut_large - self.scale * z)
        return np.stack([below_small, below_large - below_small, 1.0 - below_large], axis=1)


def fit_calibration(z: np.ndarray, y: np.ndarray, cuts: tuple[float, float]) -> OrdinalCalibration:
    """Scale and cut-points maximising the unweighted likelihood of labels y (N,) in {0, 1, 2}.

    A unit Gaussian prior on (log scale, cut-points) centred on the model's own (scale 1, its
    ``cuts``) keeps a handful of held-out records from producing extreme probabilities; with
    thousands of records it has no say.
    """
    start = np.array([0.0, cuts[0], np.log(max(cuts[1] - cuts[0], 1e-3))])

    def objective(params: np.ndarray) -> float:
        log_scale, cut, log_gap = params
        proba = OrdinalCalibration(np.exp(log_scale), cut, cut + np.exp(log_gap)).proba(z)
        nll = -np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None)).mean()
        return nll + 0.5 * np.sum((params - start) ** 2) / len(y)

    result = minimize(
        objective, start, method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-7, "maxiter": 2000}
    )
    log_scale, cut, log_gap = result.x
    return OrdinalCalibration(float(np.exp(log_scale)), float(cut), float(cut + np.exp(log_gap)))


@dataclass(frozen=True)
class DecisionCuts:
    small_below: float
    large_above: float

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Class index per score: 0 small, 1 fit, 2 large."""
        return np.where(z < self.small_below, 0, np.where(z > self.large_above, 2, 1))


def fit_decision_cuts(z: np.ndarray, y: np.ndarray, grid: int = 100) -> DecisionCuts:
    """The thresholds (among ``grid`` quantiles of z) with the best macro-F1 on labels y (N,)."""
    cand = np.unique(np.quantile(z, np.linspace(0.0, 1.0, grid)))  # (G,)
    onehot = np.eye(3)[y]  # (N, 3)
    below = np.stack([(z[:, None] < cand[None, :]).T @ onehot[:, c] for c in range(3)])  # (3, G)
    above = np.stack([(z[:, None] > cand[None, :]).T @ onehot[:, c] for c in range(3)])  # (3, G)
    actual = onehot.sum(0)  # (3,)
    # Rows index the small threshold, columns the large one; pairs with low > high are masked.
    tp_small, pred_small = below[0][:, None], below.sum(0)[:, None]  # (G, 1)
    tp_large, pred_large = above[2][None, :], above.sum(0)[None, :]  # (1, G)
    tp_fit = actual[1] - below[1][:, None] - above[1][None, :]  # (G, G)
    pred_fit = len(y) - pred_small - pred_large  # (G, G)
    f1 = [2 * tp / np.maximum(pred + actual[c], 1) for c, tp, pred in
          ((0, tp_small, pred_small), (1, tp_fit, pred_fit), (2, tp_large, pred_large))]  # fmt: skip
    macro = np.where(cand[:, None] <= cand[None, :], sum(f1) / 3, -1.0)
    i, j = np.unravel_index(np.argmax(macro), macro.shape)
    return DecisionCuts(float(cand[i]), float(cand[j]))
