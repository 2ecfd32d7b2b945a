"""``Recommender``: the one online object for a trained model — ids in, ids out.

The CLI, the HTTP handlers and simulator loops call the same methods:

- ``recommend(user_id, k, exclude=..., recent_items=...)``: one answer, never a ``KeyError``: a
  known user is scored by the model (through the FAISS index when one is attached, exactly
  otherwise); an unknown user with recent items gets item-to-item scores from those items; anyone
  else gets the most popular items. The answer says which path produced it (``source``).
- ``recommend_batch(users, k)``: internal user indices in, (B, k) item indices and scores out, for
  hot loops.
- ``similar_items(item_id, k)``: nearest items from a cached matrix (computed once).
- ``add_items(item_ids, features)``: new items for a content model, placed from their content
  without retraining, added to the catalog and the index.

Saved as a folder of data (see ``recsys.artifact``), loaded without unpickling anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch

from recsys.artifact import (
    CONTENT_MODELS,
    INDEX_DIR,
    Artifact,
    load_artifact,
    model_name,
    save_artifact,
)
from recsys.models.itemknn import ItemKNN
from recsys.models.popularity import MostPopular

SOURCES = ("exact", "index", "item_to_item", "popularity")
"""How an answer was produced: the model's exact scores, the FAISS index over its vectors,
item-to-item similarity from the given recent items, or item popularity (nothing else known)."""


class ScoringModel(Protocol):
    """What ``Recommender`` needs of a model."""

    metric: str  # "ip": higher dot product is better; "l2": smaller distance is better

    def scores(self, users: torch.Tensor) -> torch.Tensor: ...  # (B,) -> (B, I)

    def user_vectors(self) -> torch.Tensor: ...  # (U, d)

    def item_vectors(self) -> torch.Tensor: ...  # (I, d)


class UnknownItemError(KeyError):
    """An item id that is not in the recommender's catalog."""


@dataclass(frozen=True)
class Recommendation:
    """Items (original ids) with scores, best first, and the path that produced them."""

    items: list[str]
    scores: list[float]
    source: str
    ignored_items: list[str] = field(default_factory=list)  # given ids not in the catalog

    def pairs(self) -> list[tuple[str, float]]:
        return list(zip(self.items, self.scores, strict=True))


@dataclass
class Recommender:
    """A fitted model plus what is needed to answer in original ids.

    Attributes:
        model: a :class:`ScoringModel` from ``recsys.artifact.MODELS``.
        train: (U, I) training interactions (graph models were built on them; popularity).
        user_ids: (U,) original user ids; item_ids: (I,) original item ids.
        known: (U, I) items excluded by default (train + valid); defaults to ``train``.
        features: content features per modality (I, d_m), for content models.
        protocol: how the model was trained and evaluated.
        index: an optional ``recsys.index.ItemIndex`` over the item vectors; when attached,
            ``recommend`` searches it instead of scoring every item.
    """

    model: ScoringModel
    train: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    known: sp.csr_matrix | None = None
    features: list[np.ndarray] | None = None
    protocol: dict[str, object] = field(default_factory=dict)
    index: object | None = None

    def __post_init__(self) -> None:
        self.train = sp.csr_matrix(self.train)
        self.known = self.train if self.known is None else sp.csr_matrix(self.known)
        self.user_ids, self.item_ids = np.asarray(self.user_ids), np.asarray(self.item_ids)
        shape = (len(self.user_ids), len(self.item_ids))
        for name in ("train", "known"):
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"{name}: shape {getattr(self, name).shape}, expected {shape} (users x items)"
                )
        self.name = model_name(self.model)
        if isinstance(self.model, torch.nn.Module):
            self.model.eval()
        self._user_index = {str(u): i for i, u in enumerate(self.user_ids)}
        self._item_index = {str(v): i for i, v in enumerate(self.item_ids)}
        self._item_labels = [str(v) for v in self.item_ids]
        self._refresh()

    def _refresh(self) -> None:
        """Cache what every call reads: popularity order and the item-similarity matrix."""
        popularity = np.asarray(self.train.sum(axis=0)).ravel().astype(np.float32)  # (I,)
        self._popularity = popularity
        self._popular_order = np.argsort(-popularity, kind="stable")
        self._item_space = None  # built on first similar-items call
        self._user_vectors: torch.Tensor | None = None  # built on first index search

    # ----- ids -----

    def user_index(self, user_id: object) -> int | None:
        """Internal index of a user id, or None when the user was not in the training log."""
        return self._user_index.get(str(user_id))

    def item_index(self, item_id: object) -> int:
        """Internal index of an item id; raises :class:`UnknownItemError` naming it."""
        try:
            return self._item_index[str(item_id)]
        except KeyError:
            raise UnknownItemError(f"unknown item {item_id!r}: not in the catalog") from None

    def item_indices(self, item_ids: Sequence[object] | None) -> tuple[np.ndarray, list[str]]:
        """Internal indices of the ids that are in the catalog, and the ids that are not."""
        found, ignored = [], []
        for item in item_ids or ():
            index = self._item_index.get(str(item))
            if index is None:
                ignored.append(str(item))
            else:
                found.append(index)
        return np.asarray(found, dtype=np.int64), ignored

    def _answer(
        self, items: np.ndarray, scores: np.ndarray, source: str, ignored: list[str]
    ) -> Recommendation:
        keep = items >= 0
        return Recommendation(
            items=[self._item_labels[i] for i in items[keep]],
            scores=scores[keep].astype(float).tolist(),
            source=source,
            ignored_items=ignored,
        )

    # ----- recommendations -----

    def recommend(
        self,
        user_id: object | None = None,
        k: int = 10,
        *,
        recent_items: Sequence[object] | None = None,
        exclude: Sequence[object] | None = None,
        exclude_known: bool = True,
    ) -> Recommendation:
        """The k best items for one user, best first.

        Args:
            user_id: an original user id, or None for an anonymous user.
            k: how many items.
            recent_items: item ids the user interacted with recently; they are excluded, and for a
                user the model does not know they drive item-to-item recommendations.
            exclude: further item ids not to recommend (e.g. consumed since training).
            exclude_known: also exclude the user's training (and validation) items.
        """
        if k < 1:
            raise ValueError(f"k: expected a positive integer, got {k}")
        extra, ignored = self.item_indices(list(exclude or []))
        recent, ignored_recent = self.item_indices(list(recent_items or []))
        ignored = ignored_recent + ignored
        skip = np.union1d(recent, extra)
        user = None if user_id is None else self.user_index(user_id)
        if user is not None:
            items, scores, source = self._recommend_users(np.array([user]), k, [skip], exclude_known)
            return self._answer(items[0], scores[0], source, ignored)
        if len(recent):
            items, scores, source = self._item_to_item(recent, k, skip)
            return self._answer(items, scores, source, ignored)
        items, scores = self._popular(k, skip)
        return self._answer(items, scores, "popularity", ignored)

    def recommend_many(
        self,
        user_ids: Sequence[object],
        k: int = 10,
        *,
        exclude: Sequence[Sequence[object]] | None = None,
        exclude_known: bool = True,
    ) -> list[Recommendation]:
        """``recommend`` for several users; known users are scored in one batch."""
        exclude = exclude or [[] for _ in user_ids]
        if len(exclude) != len(user_ids):
            raise ValueError(f"exclude: {len(exclude)} lists for {len(user_ids)} users")
        rows = [self.user_index(u) for u in user_ids]
        answers: list[Recommendation | None] = [None] * len(user_ids)
        known = [i for i, r in enumerate(rows) if r is not None]
        if known:
            extras = [self.item_indices(list(exclude[i])) for i in known]
            items, scores, source = self._recommend_users(
                np.array([rows[i] for i in known]), k, [e for e, _ in extras], exclude_known
            )
            for j, i in enumerate(known):
                answers[i] = self._answer(items[j], scores[j], source, extras[j][1])
        for i, row in enumerate(rows):
            if row is None:
                answers[i] = self.recommend(user_ids[i], k, exclude=exclude[i], exclude_known=exclude_known)
        return answers  # type: ignore[return-value]

    def recommend_batch(
        self,
        users: np.ndarray,
        k: int = 10,
        exclude: Sequence[np.ndarray] | None = None,
        exclude_known: bool = True,
        scores: torch.Tensor | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Arrays in, arrays out, for hot loops.

        Args:
            users: (B,) internal user indices (0..U-1).
            exclude: per user, internal item indices not to recommend, on top of the known items.
            scores: (B, I) the model's scores of these users when the caller already has them
                (``model_scores``): the exact path then ranks them instead of scoring again; it is
                not changed. Ignored through an attached index.

        Returns:
            (B, k) int64 internal item indices and (B, k) float32 scores, best first; -1 and -inf
            where fewer than k items remain.
        """
        users = np.asarray(users, dtype=np.int64)
        if len(users) and (users.min() < 0 or users.max() >= len(self.user_ids)):
            raise ValueError(f"users: internal indices must lie in [0, {len(self.user_ids)})")
        items, top, _ = self._recommend_users(users, k, exclude, exclude_known, scores)
        return items, top

    def model_scores(self, users: np.ndarray) -> torch.Tensor:
        """(B, I) float32 model scores of internal users (no exclusions), e.g. to rank and gather from."""
        with torch.no_grad():
            return self.model.scores(torch.from_numpy(np.asarray(users, dtype=np.int64))).detach().float()

    def exclusions(
        self, users: np.ndarray, extra: Sequence[np.ndarray] | None, exclude_known: bool
    ) -> list[np.ndarray] | None:
        """Per user, the internal item indices it must not get (None when nothing is excluded).

        Rows are read straight from the CSR arrays: scipy's row indexing costs ~0.1 ms a call,
        which is most of a single-user request."""
        indptr, indices = self.known.indptr, self.known.indices
        lists = []
        for b, user in enumerate(users):
            parts = [indices[indptr[user] : indptr[user + 1]]] if exclude_known else []
            if extra is not None and len(extra[b]):
                parts.append(np.asarray(extra[b], dtype=np.int64))
            lists.append(np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64))
        return lists if any(len(x) for x in lists) else None

    def _recommend_users(
        self,
        users: np.ndarray,
        k: int,
        extra: Sequence[np.ndarray] | None,
        exclude_known: bool,
        given: torch.Tensor | None = None,
    ) -> tuple[np.ndarray, np.ndarray, str]:
        if k < 1:
            raise ValueError(f"k: expected a positive integer, got {k}")
        excluded = self.exclusions(users, extra, exclude_known)
        if self.index is not None:
            if self._user_vectors is None:
                self._user_vectors = self.model.user_vectors().float()  # (U, d)
            queries = self._user_vectors[torch.from_numpy(users)].numpy()
            D, I = self.index.search(queries, k, exclude=excluded)  # (B, k), (B, k)
            scores = -D if self.model.metric == "l2" else D  # the model's score: -squared distance
            return I, np.where(I >= 0, scores, -np.inf).astype(np.float32), "index"
        scores = (self.model_scores(users) if given is None else given).clone()  # (B, I)
        if excluded is not None:
            rows = np.repeat(np.arange(len(users)), [len(x) for x in excluded])
            scores[torch.from_numpy(rows), torch.from_numpy(np.concatenate(excluded))] = -torch.inf
        values, items = torch.topk(scores, min(k, scores.shape[1]), dim=1)  # (B, k)
        items, values = items.numpy(), values.numpy()
        return np.where(np.isfinite(values), items, -1), values, "exact"

    def _popular(self, k: int, skip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = self._popular_order
        if len(skip):
            order = order[~np.isin(order, skip)]
        top = order[:k]
        return top, self._popularity[top]

    # ----- item-to-item -----

    def _space(self) -> tuple[str, object]:
        """The cached item-similarity space: ("knn", (I, I) CSR neighbours), ("cosine", (I, d)
        unit rows), ("l2", (I, d) rows) or ("popularity", None)."""
        if self._item_space is None:
            if isinstance(self.model, ItemKNN):
                # model.similarity[i, j] = sim(i, j) for i among j's neighbours; rows of the
                # transpose list each item's own neighbours.
                self._item_space = ("knn", sp.csr_matrix(self.model.similarity.T))
            elif isinstance(self.model, MostPopular):
                self._item_space = ("popularity", None)
            else:
                vectors = self.model.item_vectors().float()  # (I, d)
                if self.model.metric == "l2":
                    self._item_space = ("l2", vectors)
                else:
                    self._item_space = ("cosine", torch.nn.functional.normalize(vectors, dim=1))
        return self._item_space

    def _item_scores(self, items: np.ndarray) -> np.ndarray | None:
        """(I,) similarity of every item to the given items taken together, or None (popularity)."""
        kind, space = self._space()
        if kind == "popularity":
            return None
        if kind == "knn":
            return np.asarray(space[items].sum(axis=0)).ravel()  # item-based CF over these items
        rows = space[torch.from_numpy(items)]  # (n, d)
        if kind == "l2":
            center = rows.mean(0)
            return (-(space - center).pow(2).sum(1)).numpy()
        query = torch.nn.functional.normalize(rows.sum(0), dim=0)
        return (space @ query).numpy()

    def _item_to_item(
        self, items: np.ndarray, k: int, skip: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """Top-k items by similarity to ``items`` (none of ``skip``), and the source label."""
        scores = self._item_scores(items)
        if scores is None:
            return (*self._popular(k, skip), "popularity")
        scores = scores.astype(np.float32).copy()
        scores[skip] = -np.inf
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return np.where(np.isfinite(scores[top]), top, -1), scores[top], "item_to_item"

    def score_items(
        self, user_id: object | None, item_ids: Sequence[object], recent_items: Sequence[object] | None = None
    ) -> tuple[np.ndarray, str]:
        """Scores of the given items for one user (higher is better), e.g. to rank an exposure list.

        The same paths as ``recommend``: the model's scores for a known user; similarity to
        ``recent_items`` for an unknown one; popularity otherwise. Items not in the catalog get -inf.

        Returns:
            (n,) float32 scores aligned with ``item_ids``, and the source label.
        """
        index = np.array([self._item_index.get(str(i), -1) for i in item_ids], dtype=np.int64)
        user = None if user_id is None else self.user_index(user_id)
        if user is not None:
            with torch.no_grad():
                row = self.model.scores(torch.from_numpy(np.array([user])))[0].float().numpy()  # (I,)
            source = "exact"
        else:
            recent, _ = self.item_indices(list(recent_items or []))
            row = self._item_scores(recent) if len(recent) else None
            source = "item_to_item" if row is not None else "popularity"
            row = self._popularity if row is None else row
        scores = np.where(index >= 0, row[np.maximum(index, 0)], -np.inf).astype(np.float32)
        return scores, source

    def similar_items(self, item_id: object, k: int = 10) -> list[tuple[str, float]]:
        """Items closest to one item (cosine for dot-product models, negative squared distance for
        metric models, neighbour similarity for ItemKNN, popularity for MostPopular), the item
        itself excluded. Raises :class:`UnknownItemError` for an id not in the catalog."""
        index = self.item_index(item_id)
        items, scores, _ = self._item_to_item(np.array([index]), k, np.array([index]))
        keep = items >= 0
        return list(
            zip([self._item_labels[i] for i in items[keep]], scores[keep].astype(float).tolist(), strict=True)
        )

    # ----- catalog -----

    def add_items(self, item_ids: Sequence[object], features: Sequence[np.ndarray]) -> None:
        """Add new items to a content model's catalog (and index) without retraining.

        Args:
            item_ids: (n,) new original ids (not in the catalog yet).
            features: one (n, d_m) matrix per modality, as the model was trained with.
        """
        if self.name not in CONTENT_MODELS:
            raise ValueError(
                f"model {self.name!r} has no content features; only {CONTENT_MODELS} can add items"
            )
        new_ids = [str(i) for i in item_ids]
        clash = [i for i in new_ids if i in self._item_index]
        if clash or len(set(new_ids)) != len(new_ids):
            raise ValueError(
                f"item_ids: already in the catalog or repeated: {sorted(set(clash))[:5] or new_ids}"
            )
        if len(features) != len(self.features or []):
            raise ValueError(
                f"features: {len(features)} modalities, the model has {len(self.features or [])}"
            )
        for m, matrix in enumerate(features):
            expected = (len(new_ids), self.features[m].shape[1])
            if matrix.shape != expected:
                raise ValueError(f"features[{m}]: expected shape {expected}, got {matrix.shape}")
        old_vectors = self.model.item_vectors().numpy().copy() if self.index is not None else None
        self.model.add_items([np.asarray(f, dtype=np.float32) for f in features])
        n = len(new_ids)
        self.features = [
            np.concatenate([f, np.asarray(g, dtype=np.float32)])
            for f, g in zip(self.features, features, strict=True)
        ]
        self.item_ids = np.concatenate([self.item_ids.astype(str), np.array(new_ids)])
        self.train = sp.hstack([self.train, sp.csr_matrix((len(self.user_ids), n))]).tocsr()
        self.known = sp.hstack([self.known, sp.csr_matrix((len(self.user_ids), n))]).tocsr()
        for i, item in enumerate(new_ids, start=len(self._item_labels)):
            self._item_index[item] = i
        self._item_labels.extend(new_ids)
        self._refresh()
        if self.index is not None:
            vectors = self.model.item_vectors().numpy()
            if np.array_equal(vectors[: len(old_vectors)], old_vectors):
                self.index.add(vectors[len(old_vectors) :], new_ids)
            else:  # the model moved existing items too (CM3's item graph): index them anew
                self.attach_index(self.index.factory)

    def attach_index(self, factory: str = "HNSW32", **options: object) -> None:
        """Build a FAISS index over the item vectors (the model's metric); ``recommend`` then
        searches it. ``options`` go to ``recsys.index.build_index`` (ef_search, nprobe, ...)."""
        from recsys.index import ItemIndex

        if isinstance(self.model, ItemKNN | MostPopular):
            raise ValueError(f"model {self.name!r} has no user/item vectors to index")
        vectors = self.model.item_vectors().numpy()
        self.index = ItemIndex.build(
            vectors, self.model.metric, factory, item_ids=self._item_labels, **options
        )

    # ----- persistence -----

    def save(self, path: str | Path) -> Path:
        """Write the folder atomically (see ``recsys.artifact``), with the index when attached."""
        artifact = Artifact(
            model=self.model,
            train=self.train,
            known=self.known,
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            features=self.features,
            protocol=self.protocol,
        )
        return save_artifact(artifact, Path(path), self.index)

    @classmethod
    def load(cls, path: str | Path, with_index: bool = True) -> Recommender:
        """Read a folder written by ``save``; its FAISS index too when saved and ``with_index``."""
        artifact, manifest = load_artifact(Path(path))
        index = None
        if with_index and any(name.startswith(f"{INDEX_DIR}/") for name in manifest["files"]):
            from recsys.index import ItemIndex

            index = ItemIndex.load(Path(path) / INDEX_DIR)
        return cls(
            model=artifact.model,
            train=artifact.train,
            user_ids=artifact.user_ids,
            item_ids=artifact.item_ids,
            known=artifact.known,
            features=artifact.features,
            protocol=artifact.protocol,
            index=index,
        )
