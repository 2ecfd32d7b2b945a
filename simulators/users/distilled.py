"""A distilled fast user simulator: LightGBM on cheap per-option features, trained to reproduce a slow
simulator's (the LM's) option scores, for long A/B runs.

Features of each option (:class:`OptionFeatures`): every given recommender's score for the user
(BPR, ItemKNN, ...; only the shown options are scored), fixed per-item columns (log popularity,
release year, the LM's score of the title under an empty history, the title's token count, ...),
the cosine between the option's genres and the history's mean genre vector, a history x title
feature for what the LM's prompt does to a title's score (the cosine between the option's text
vector, e.g. MiniLM, and the mean vector of the ``recent`` history titles), the user's mean history
rating, and optionally the display position (off by default: no position bias by construction).
Each per-option value also enters relative to its list's mean (what a softmax over the list sees).
The target is the teacher's score minus its list's mean; the distilled probabilities are the
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
        item_vectors: (I, D) unit text vectors of the titles (e.g. MiniLM), or None.
        recent: how many of the latest history items the text feature reads (the LM prompt's
            history lines).
        position: whether the display position is a feature (off: the fitted model cannot prefer a
            position, whatever the teacher did).
    """

    def __init__(
        self,
        item_ids: Sequence[str],
        item_columns: Mapping[str, np.ndarray],
        recommenders: Mapping[str, Recommender],
        genres: np.ndarray | None = None,
        item_vectors: np.ndarray | None = None,
        recent: int = 5,
        position: bool = False,
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
        self.pair_scorers = {name: pair_scorer(rec.model) for name, rec in self.recommenders.items()}
        unit = None
        if genres is not None:
            g = np.asarray(genres, dtype=np.float64)
            unit = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        self.unit_genres = unit
        if item_vectors is not None and len(item_vectors) != len(item_ids):
            raise ValueError(f"item_vectors has {len(item_vectors)} rows for {len(item_ids)} items")
        self.item_vectors = None if item_vectors is None else np.asarray(item_vectors, dtype=np.float32)
        self.recent, self.position = recent, position
        per_option = [*item_columns, *self.recommenders] + (["genre_affinity"] if unit is not None else [])
        per_option += ["text_affinity"] if item_vectors is not None else []
        self.columns = [*per_option, *(f"{c}_rel" for c in per_option), "mean_rating"]
        self.columns += ["position"] if position else []

    def _items(self, items: Sequence[str]) -> list[int]:
        try:
            return [self.index[str(i)] for i in items]
        except KeyError as err:
            raise ValueError(f"item {err.args[0]!r} is not in the distilled simulator's catalog") from None

    def _recommender_scores(self, name: str, exposures: Sequence[Exposure], options: np.ndarray):
        """(B, n) one recommender's scores: the options' scores alone for the users it knows (the
        full catalogue's for a model without a pair scorer), ``score_items`` for the others."""
        rec = self.recommenders[name]
        users = [rec.user_index(e.user) for e in exposures]
        out = np.empty(options.shape)
        known = np.array([u is not None for u in users])
        if known.any():
            ids = np.array([u for u in users if u is not None])
            cols = self.rec_items[name][options[known]]  # (K, n)
            scorer = self.pair_scorers[name]
            if scorer is None:
                out[known] = np.take_along_axis(rec.model_scores(ids).numpy(), cols, axis=1)
            else:
                out[known] = scorer(ids, cols)
        for b in np.flatnonzero(~known):
            e = exposures[b]
            out[b] = rec.score_items(e.user, e.options, [i for i, _ in e.history])[0]
        return out

    def _history(self, exposures: Sequence[Exposure], recent: int | None = None) -> list[list[int]]:
        """Per list, the catalog indices of its history items (the ``recent`` latest only when given;
        uncatalogued items left out)."""
        windows = [
            e.history if recent is None else e.history[max(len(e.history) - recent, 0) :] for e in exposures
        ]
        return [[k for k in (self.index.get(str(i)) for i, _ in h) if k is not None] for h in windows]

    def _text_affinity(self, recent: list[list[int]], options: np.ndarray) -> np.ndarray:
        """(B, n) cosine between each option's text vector and its list's recent history's mean one."""
        return np.einsum("bnd,bd->bn", self.item_vectors[options], unit_means(self.item_vectors, recent))

    def __call__(self, exposures: Sequence[Exposure]) -> np.ndarray:
        n = len(exposures[0].options)
        options = np.array([self._items(e.options) for e in exposures])  # (B, n)
        parts = [self.item_table[options]]  # (B, n, C)
        parts += [self._recommender_scores(name, exposures, options)[..., None] for name in self.recommenders]
        if self.unit_genres is not None:
            taste = unit_means(self.unit_genres, self._history(exposures))  # (B, G)
            parts.append(np.einsum("bng,bg->bn", self.unit_genres[options], taste)[..., None])
        if self.item_vectors is not None:
            parts.append(self._text_affinity(self._history(exposures, self.recent), options)[..., None])
        values = np.concatenate(parts, axis=2)  # (B, n, P)
        relative = values - values.mean(axis=1, keepdims=True)
        ratings = np.array([sum(r for _, r in e.history) / max(len(e.history), 1) for e in exposures])
        user = np.broadcast_to(ratings[:, None, None], (len(exposures), n, 1))
        blocks = [values, relative, user]
        if self.position:
            blocks.append(
                np.broadcast_to(np.arange(n, dtype=np.float64)[None, :, None], (len(exposures), n, 1))
            )
        return np.concatenate(blocks, axis=2)  # (B, n, F)


def unit_means(table: np.ndarray, rows: list[list[int]]) -> np.ndarray:
    """(B, D) unit vector of the mean of ``table``'s rows listed for each of B lists (zeros for none)."""
    lengths = np.array([len(r) for r in rows])
    present = np.arange(max(lengths.max(initial=0), 1)) < lengths[:, None]  # (B, L)
    index = np.zeros(present.shape, dtype=np.int64)
    index[present] = np.fromiter((k for r in rows for k in r), dtype=np.int64, count=int(lengths.sum()))
    mean = (table[index] * present[..., None]).sum(axis=1) / np.maximum(lengths, 1)[:, None]  # (B, D)
    return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)


def pair_scorer(model):
    """A function (users (K,), items (K, n)) -> (K, n) float32 scores of just those pairs, equal (to
    float32 rounding) to gathering them from ``model.scores``; None for a model it does not know.

    Inner-product models score with their user and item vectors; ItemKNN sums, for each option, the
    similarities of its stored neighbours that are among the user's training items."""
    from recsys.models.itemknn import ItemKNN

    if isinstance(model, ItemKNN):
        return KNNPairs(model.user_items, model.similarity)
    if getattr(model, "metric", None) != "ip":
        return None
    try:
        users, items = model.user_vectors(), model.item_vectors()
    except NotImplementedError:
        return None
    users, items = users.float().cpu().numpy(), items.float().cpu().numpy()
    return lambda u, i: np.einsum("kd,knd->kn", users[u], items[i])  # (K, n)


class KNNPairs:
    """ItemKNN's score of (user, item) pairs, sum_h user_items[u, h] * similarity[h, i]: the
    similarity's columns padded to a (I, k) neighbour table, read from the users' dense rows
    (``block`` values at a time)."""

    def __init__(self, user_items, similarity, block: int = 1 << 22) -> None:
        self.user_items, self.block = user_items, block
        columns = similarity.tocsc()
        counts = np.diff(columns.indptr)
        self.neighbours = np.zeros((similarity.shape[1], max(int(counts.max()), 1)), dtype=np.int64)  # (I, k)
        self.weights = np.zeros(self.neighbours.shape, dtype=np.float32)  # (I, k), 0 = padding
        slot = np.arange(columns.nnz) - np.repeat(columns.indptr[:-1], counts)
        column = np.repeat(np.arange(similarity.shape[1]), counts)
        self.neighbours[column, slot] = columns.indices
        self.weights[column, slot] = columns.data

    def __call__(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.empty(items.shape, dtype=np.float32)  # (K, n)
        step = max(1, self.block // self.user_items.shape[1])
        for start in range(0, len(users), step):
            part = slice(start, start + step)
            rows = self.user_items[users[part]].toarray()  # (k, I)
            near = self.neighbours[items[part]]  # (k, n, width)
            had = rows[np.arange(len(rows))[:, None, None], near]  # (k, n, width)
            out[part] = (had * self.weights[items[part]]).sum(axis=2)
        return out


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

    def with_features(self, features: OptionFeatures) -> DistilledUser:
        """The same fitted model reading ``features`` (same columns; e.g. built on recommenders fitted
        on the whole training log after the model was fitted on ones blind to its lists' targets)."""
        if features.columns != self.features.columns:
            raise ValueError(f"features: columns {features.columns} differ from {self.features.columns}")
        return DistilledUser(features, self.booster, self.temperature, self.name)

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
    rounds: int = 200,
    learning_rate: float = 0.1,
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
        "learning_rate": learning_rate,
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
