"""A user simulator that combines per-option score sources: a product of experts, fitted to real choices.

Each source gives a (B, n) score per shown option (the LM's log-likelihood of the title after the
user's history, a recommender's score, the LM's score of the title under an empty history, ...);
the choice probabilities are

    p(option j of list b) = softmax_j( sum_k w_k * s_k[b, j] ),

a conditional logit whose weights are fitted by maximum likelihood of what users really chose on
training lists (:func:`fit_weights`). Two cases the user-simulator benchmark measures
(``benchmarks/usersim_combined.py``):

- PMI-corrected LM: ``w_lm * (lm - lambda * prior)``, the title's likelihood after the history less
  ``lambda`` times its likelihood under an empty history (how generic the title is), ``lambda`` on a
  grid and the scale ``w_lm`` (an inverse temperature) fitted (:func:`fit_pmi`).
- LM x BPR: ``a * lm + b * bpr (+ c * prior)``, all weights fitted.

Every source scores options alone (no display position), so the simulator has no position bias by
construction. What is saved is the weights (JSON, written atomically); the sources are the
caller's to rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from recsys.recommender import Recommender
from simulators.users.exposures import Exposure
from simulators.users.simulators import RecommenderUser, softmax

ScoreSource = Callable[[Sequence[Exposure]], np.ndarray]  # exposures -> (B, n) scores
FORMAT = "alignrec combined user simulator weights"
VERSION = 1


class CombinedUser:
    """Choice probabilities from a weighted sum of score sources (softmax over each list).

    Args:
        sources: name -> a function of exposures giving (B, n) scores.
        weights: name -> weight; the same names as ``sources``.
        name: the simulator's name in result rows.
    """

    def __init__(
        self, sources: Mapping[str, ScoreSource], weights: Mapping[str, float], name: str = "combined"
    ):
        if set(sources) != set(weights):
            raise ValueError(
                f"weights name {sorted(weights)}, sources name {sorted(sources)}: they must match"
            )
        self.sources, self.weights, self.name = dict(sources), dict(weights), name

    def scores(self, exposures: Sequence[Exposure]) -> np.ndarray:
        """(B, n) combined scores."""
        sizes = {len(e.options) for e in exposures}
        if len(sizes) != 1:
            raise ValueError(f"exposures: every list must have the same length, got sizes {sorted(sizes)}")
        shape = (len(exposures), sizes.pop())
        total = np.zeros(shape)
        for name, source in self.sources.items():
            part = np.asarray(source(exposures), dtype=np.float64)
            if part.shape != shape:
                raise ValueError(f"source {name!r} gave scores of shape {part.shape}, expected {shape}")
            total += self.weights[name] * part
        return total

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        return softmax(self.scores(exposures), 1.0)


def item_source(item_ids: Sequence[str], values: np.ndarray) -> ScoreSource:
    """A source from one fixed value per item (e.g. the LM's empty-history score of each title)."""
    if len(values) != len(item_ids):
        raise ValueError(f"item_source: {len(values)} values for {len(item_ids)} items")
    index = {str(i): k for k, i in enumerate(item_ids)}
    table = np.asarray(values, dtype=np.float64)

    def scores(exposures: Sequence[Exposure]) -> np.ndarray:
        try:
            return table[np.array([[index[str(o)] for o in e.options] for e in exposures])]
        except KeyError as err:
            raise ValueError(f"item {err.args[0]!r} has no value in this item source") from None

    return scores


def recommender_source(recommender: Recommender) -> ScoreSource:
    """A source from a trained recommender's scores for the user (item-to-item from the history for
    a user it does not know): ``RecommenderUser.scores``."""
    return RecommenderUser(recommender).scores


def _nll(w: np.ndarray, x: np.ndarray, targets: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood of the targets under softmax(x @ w) and its gradient."""
    z = x @ w  # (B, n)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(targets))
    loss = -np.log(np.maximum(p[rows, targets], 1e-300)).mean() + l2 * (w @ w)
    expected = np.einsum("bn,bnk->bk", p, x)  # (B, K)
    grad = (expected - x[rows, targets]).mean(axis=0) + 2 * l2 * w
    return float(loss), grad


def choice_nll(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean negative log-likelihood of the real choices under softmax(scores) (B, n)."""
    return _nll(np.ones(1), np.asarray(scores, dtype=np.float64)[..., None], np.asarray(targets), 0.0)[0]


def fit_weights(scores: Mapping[str, np.ndarray], targets: np.ndarray, l2: float = 0.0) -> dict[str, float]:
    """Weights maximising the likelihood of the real choices ``targets`` (B,) under
    softmax(sum_k w_k * scores[k]) over (B, n) score arrays (a convex conditional logit; L-BFGS),
    with an optional L2 penalty ``l2 * |w|^2``."""
    from scipy.optimize import minimize

    names = list(scores)
    if not names:
        raise ValueError("fit_weights: no score sources")
    x = np.stack([np.asarray(scores[k], dtype=np.float64) for k in names], axis=2)  # (B, n, K)
    targets = np.asarray(targets, dtype=np.int64)
    if x.shape[0] != len(targets):
        raise ValueError(f"fit_weights: {x.shape[0]} lists of scores, {len(targets)} targets")
    if not np.isfinite(x).all():
        raise ValueError("fit_weights: scores must be finite")
    result = minimize(_nll, np.zeros(len(names)), args=(x, targets, l2), jac=True, method="L-BFGS-B")
    if not result.success:
        raise RuntimeError(f"fit_weights: the optimiser did not converge ({result.message})")
    return {k: float(v) for k, v in zip(names, result.x, strict=True)}


def fit_pmi(
    lm: np.ndarray,
    prior: np.ndarray,
    targets: np.ndarray,
    lambdas: Sequence[float] = tuple(np.arange(-20, 31) / 20),
) -> tuple[float, dict[str, float]]:
    """The PMI-corrected LM: for each ``lambda`` of the grid (default -1, -0.95, ..., 1.5) the scale
    ``a`` of ``lm - lambda * prior`` fitted by likelihood; returns the ``lambda`` of the highest
    likelihood and the weights ``{"lm": a, "prior": -a * lambda}``. A negative ``lambda`` leans
    further towards titles the LM finds likely after any history (on ML-1M's training lists the
    likelihood still rose at 0)."""
    best = None
    for lam in lambdas:
        a = fit_weights({"pmi": lm - lam * prior}, targets)["pmi"]
        loss = choice_nll(a * (lm - lam * prior), targets)
        if best is None or loss < best[0]:
            best = (loss, float(lam), a)
    _, lam, a = best
    return lam, {"lm": a, "prior": -a * lam}


def save_weights(
    path: str | Path, weights: Mapping[str, float], info: Mapping[str, object] | None = None
) -> Path:
    """Write the weights (and free-form ``info``: what they were fitted on) to a JSON file, atomically."""
    from recsys.storage import write_text_atomic

    payload = {"format": FORMAT, "version": VERSION, "weights": dict(weights), "info": dict(info or {})}
    return write_text_atomic(path, json.dumps(payload, indent=1) + "\n")


def load_weights(path: str | Path) -> dict[str, float]:
    """The weights a :func:`save_weights` file holds."""
    path = Path(path)
    payload = json.loads(path.read_text())
    if payload.get("format") != FORMAT or payload.get("version") != VERSION:
        raise ValueError(f"{path}: not a version-{VERSION} combined-simulator weights file")
    weights = payload["weights"]
    if not all(isinstance(v, (int, float)) for v in weights.values()):
        raise ValueError(f"{path}: weights must be numbers")
    return {str(k): float(v) for k, v in weights.items()}
