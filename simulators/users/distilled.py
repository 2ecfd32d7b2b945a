"""A distilled fast user simulator: LightGBM on cheap per-option features, trained to reproduce a slow
simulator's (the LM's) option scores, for long A/B runs.

Features of each option (:class:`OptionFeatures`): every given recommender's score for the user
(BPR, ItemKNN, ...), fixed per-item columns (log popularity, release year, the LM's score of the
title under an empty history, the title's token count, ...), the cosine between the option's
genres and the history's mean genre vector, the user's mean history rating, and the display
position; each per-option value also relative to its list's mean (what a softmax over the list
sees). The target is the teacher's score minus its list's mean; the distilled probabilities are the
softmax of the predicted scores over each list, with the teacher's temperature.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from recsys.recommender import Recommender
from simulators.users.exposures import Exposure
from simulators.users.simulators import softmax

MODEL_FILE = "distilled.txt"
META_FILE = "distilled.json"


class OptionFeatures:
    """(B, n, F) features of exposures' options.

    Args:
        item_ids: the catalog's item ids; the arrays below are aligned with them.
        item_columns: name -> (I,) per-item values.
        recommenders: name -> a trained ``Recommender`` whose catalog holds every item.
        genres: (I, G) multi-hot genres, or None.
    """

    def __init__(
        self,
        item_ids: Sequence[str],
        item_columns: Mapping[str, np.ndarray],
        recommenders: Mapping[str, Recommender],
        genres: np.ndarray | None = None,
    ) -> None:
        self.index = {str(i): k for k, i in enumerate(item_ids)}
        for name, column in item_columns.items():
            if len(column) != len(item_ids):
                raise ValueError(f"item column {name!r} has {len(column)} values for {len(item_ids)} items")
        self.item_columns = list(item_columns)
        self.item_table = np.stack([np.asarray(c, dtype=np.float64) for c in item_columns.values()], 1)
        self.recommenders = dict(recommenders)
        self.rec_items = {
            name: np.array([rec.item_index(i) for i in item_ids]) for name, rec in self.recommenders.items()
        }  # item -> each recommender's internal index
        unit = None
        if genres is not None:
            g = np.asarray(genres, dtype=np.float64)
            unit = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        self.unit_genres = unit
        per_option = [*item_columns, *self.recommenders] + (["genre_affinity"] if unit is not None else [])
        self.columns = [*per_option, *(f"{c}_rel" for c in per_option), "mean_rating", "position"]

    def _items(self, items: Sequence[str]) -> list[int]:
        try:
            return [self.index[str(i)] for i in items]
        except KeyError as err:
            raise ValueError(f"item {err.args[0]!r} is not in the distilled simulator's catalog") from None

    def _recommender_scores(self, name: str, exposures: Sequence[Exposure], options: np.ndarray):
        """(B, n) one recommender's scores: one batched pass for the users it knows."""
        rec = self.recommenders[name]
        users = [rec.user_index(e.user) for e in exposures]
        out = np.empty(options.shape)
        known = np.array([u is not None for u in users])
        if known.any():
            scores = rec.model_scores(np.array([u for u in users if u is not None])).numpy()  # (K, I_rec)
            cols = self.rec_items[name][options[known]]  # (K, n)
            out[known] = np.take_along_axis(scores, cols, axis=1)
        for b in np.flatnonzero(~known):
            e = exposures[b]
            out[b] = rec.score_items(e.user, e.options, [i for i, _ in e.history])[0]
        return out

    def __call__(self, exposures: Sequence[Exposure]) -> np.ndarray:
        n = len(exposures[0].options)
        options = np.array([self._items(e.options) for e in exposures])  # (B, n)
        parts = [self.item_table[options]]  # (B, n, C)
        parts += [self._recommender_scores(name, exposures, options)[..., None] for name in self.recommenders]
        if self.unit_genres is not None:
            taste = np.zeros((len(exposures), self.unit_genres.shape[1]))
            for b, e in enumerate(exposures):
                history = [self.index[str(i)] for i, _ in e.history if str(i) in self.index]
                if history:
                    taste[b] = self.unit_genres[history].mean(0)
            taste /= np.maximum(np.linalg.norm(taste, axis=1, keepdims=True), 1e-12)
            parts.append(np.einsum("bng,bg->bn", self.unit_genres[options], taste)[..., None])
        values = np.concatenate(parts, axis=2)  # (B, n, P)
        relative = values - values.mean(axis=1, keepdims=True)
        ratings = np.array([np.mean([r for _, r in e.history]) if e.history else 0.0 for e in exposures])
        user = np.broadcast_to(ratings[:, None, None], (len(exposures), n, 1))
        position = np.broadcast_to(np.arange(n, dtype=np.float64)[None, :, None], (len(exposures), n, 1))
        return np.concatenate([values, relative, user, position], axis=2)  # (B, n, F)


class DistilledUser:
    """Choice probabilities from a LightGBM model of a teacher simulator's option scores."""

    def __init__(self, features: OptionFeatures, booster, temperature: float = 1.0, name: str = "distilled"):
        self.features, self.booster, self.temperature, self.name = features, booster, temperature, name

    def scores(self, exposures: Sequence[Exposure]) -> np.ndarray:
        x = self.features(exposures)  # (B, n, F)
        flat = x.reshape(-1, x.shape[2])
        return self.booster.predict(flat, num_threads=1).reshape(x.shape[:2])

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        sizes = {len(e.options) for e in exposures}
        if len(sizes) != 1:
            raise ValueError(f"exposures: every list must have the same length, got sizes {sorted(sizes)}")
        return softmax(self.scores(exposures), self.temperature)

    def save(self, path: str | Path) -> Path:
        """Write the LightGBM model and its feature columns into a folder (the features' data —
        recommenders, item columns — are the caller's to keep)."""
        from recsys.storage import atomic_dir

        with atomic_dir(path) as tmp:
            (tmp / MODEL_FILE).write_text(self.booster.model_to_string())
            meta = {"columns": self.features.columns, "temperature": self.temperature, "name": self.name}
            (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
        return Path(path)


def load_distilled(path: str | Path, features: OptionFeatures) -> DistilledUser:
    """A :class:`DistilledUser` from a folder :meth:`DistilledUser.save` wrote, with the same features."""
    import lightgbm

    path = Path(path)
    if not (path / MODEL_FILE).exists():
        raise FileNotFoundError(f"{path}: no {MODEL_FILE}; write one with `alignrec simulator distil`")
    meta = json.loads((path / META_FILE).read_text())
    if meta["columns"] != features.columns:
        raise ValueError(f"{path}: trained on features {meta['columns']}, given {features.columns}")
    booster = lightgbm.Booster(model_str=(path / MODEL_FILE).read_text())
    return DistilledUser(features, booster, meta["temperature"], meta["name"])


def distil(
    features: OptionFeatures,
    exposures: Sequence[Exposure],
    teacher_scores: np.ndarray,
    temperature: float = 1.0,
    rounds: int = 400,
    seed: int = 2026,
    name: str = "distilled",
) -> DistilledUser:
    """Fit LightGBM to the teacher's (B, n) raw option scores on training lists.

    The regression target is each score minus its list's mean (a softmax ignores a list's shift);
    ``temperature`` is the teacher's, so the distilled probabilities are on its scale.
    """
    import lightgbm

    if teacher_scores.shape != (len(exposures), len(exposures[0].options)):
        raise ValueError(f"teacher_scores: expected shape {(len(exposures), len(exposures[0].options))}")
    x = features(exposures)
    y = teacher_scores - teacher_scores.mean(axis=1, keepdims=True)  # (B, n)
    params = {
        "objective": "regression",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.9,
        "seed": seed,
        "num_threads": 1,
        "verbose": -1,
        "deterministic": True,
    }
    data = lightgbm.Dataset(x.reshape(-1, x.shape[2]), y.ravel(), feature_name=features.columns)
    booster = lightgbm.train(params, data, num_boost_round=rounds)
    return DistilledUser(features, booster, temperature, name)
