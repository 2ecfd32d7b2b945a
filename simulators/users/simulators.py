"""User simulators: interchangeable implementations of one small interface.

A simulator turns exposures into choice probabilities over the options shown, (B, n) rows summing
to one; the A/B harness and the evaluation never know which implementation they drive. Each one
here is a baseline the language-model simulator must beat: uniformly random, item popularity, and
any trained ``Recommender``'s scores (BPR, ItemKNN, LightGCN, ...), softmaxed with a temperature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from recsys.recommender import Recommender
from simulators.users.exposures import Exposure


class UserSimulator(Protocol):
    """Choice probabilities over each exposure's options: (B, n), rows sum to 1."""

    name: str

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray: ...


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of (B, n) scores; -inf entries get probability 0."""
    z = scores / temperature
    z = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _stack(exposures: Sequence[Exposure]) -> int:
    sizes = {len(e.options) for e in exposures}
    if len(sizes) != 1:
        raise ValueError(f"exposures: every list must have the same length, got sizes {sorted(sizes)}")
    return sizes.pop()


class RandomUser:
    """Every option equally likely."""

    name = "random"

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        n = _stack(exposures)
        return np.full((len(exposures), n), 1.0 / n)


class PopularityUser:
    """Options weighted by their training popularity (``Recommender``'s popularity table)."""

    name = "popularity"

    def __init__(self, recommender: Recommender, temperature: float = 1.0) -> None:
        self.recommender, self.temperature = recommender, temperature

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        _stack(exposures)
        scores = np.stack([self.recommender.score_items(None, e.options)[0] for e in exposures])
        return softmax(np.log1p(np.maximum(scores, 0)), self.temperature)


class RecommenderUser:
    """Options weighted by a trained recommender's scores for the user (item-to-item from the
    history when the model does not know the user)."""

    def __init__(self, recommender: Recommender, temperature: float = 1.0, name: str | None = None) -> None:
        self.recommender, self.temperature = recommender, temperature
        self.name = name or recommender.name

    def scores(self, exposures: Sequence[Exposure]) -> np.ndarray:
        """(B, n) the recommender's scores of each list's options, lists of one length."""
        _stack(exposures)
        rec = self.recommender
        rows = [rec.score_items(e.user, e.options, [i for i, _ in e.history])[0] for e in exposures]
        return np.stack(rows).astype(np.float64)

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        return softmax(self.scores(exposures), self.temperature)


class NewestUser:
    """A metadata heuristic: always the most recently released option (ties: the first shown)."""

    name = "newest title"

    def __init__(self, years: dict[str, int]) -> None:
        self.years = years

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        n = _stack(exposures)
        picks = [int(np.argmax([self.years.get(o, 0) for o in e.options])) for e in exposures]
        return np.eye(n)[picks]


class GenreMedoidUser:
    """A metadata heuristic: the option whose genres are closest to all the others' (the list's
    genre medoid) — the target is the one item every list is built around."""

    name = "genre medoid"

    def __init__(self, genres: dict[str, np.ndarray]) -> None:
        self.genres = genres

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        n = _stack(exposures)
        picks = []
        for e in exposures:
            g = np.stack([self.genres[o] for o in e.options]).astype(np.float64)  # (n, G)
            g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
            picks.append(int(np.argmax((g @ g.T).sum(1))))
        return np.eye(n)[picks]
