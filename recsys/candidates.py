"""Stage one of two-stage ranking: candidates from several retrievers, merged per user.

Each retriever is a :class:`~recsys.recommender.Recommender` asked for its top ``depth`` items
through ``recommend_batch`` — the path the service uses (exact scores, or FAISS when an index is
attached). A user's candidates are the union of those lists, in first-seen order (retrievers in
the given order, each best first). For every candidate the ranker gets, from every retriever, the
candidate's rank in that retriever's list (``depth`` when it did not propose it) and the
retriever's score for it, computed whether or not it proposed it, so that the second stage can
weigh one model's opinion of another model's proposals.

Arrays: ``items`` (Q, C) internal item indices padded with -1 (valid ones first, ``counts`` (Q,) of
them), ``ranks`` and ``scores`` (Q, C, S) for the S retrievers, 0 at padding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from recsys.recommender import Recommender


@dataclass(frozen=True)
class Candidates:
    """Merged candidates of Q users from S retrievers (see the module docstring for shapes)."""

    users: np.ndarray  # (Q,) internal user indices
    items: np.ndarray  # (Q, C) int64, -1 = padding
    ranks: np.ndarray  # (Q, C, S) float32 rank in retriever s's list; depth_s when not proposed
    scores: np.ndarray  # (Q, C, S) float32 retriever s's score of the item
    sources: tuple[str, ...]
    depths: tuple[int, ...]

    @property
    def counts(self) -> np.ndarray:
        """(Q,) number of candidates per user."""
        return (self.items >= 0).sum(axis=1)

    @property
    def mask(self) -> np.ndarray:
        """(Q, C) True at real candidates."""
        return self.items >= 0

    def proposed(self) -> np.ndarray:
        """(Q, C, S) True where retriever s proposed the candidate."""
        return self.ranks < np.asarray(self.depths, dtype=np.float32)


def merge_lists(lists: Sequence[np.ndarray]) -> np.ndarray:
    """Row-wise union of (Q, d_s) item lists (-1 = none), first occurrence first: (Q, C) padded -1."""
    stacked = np.concatenate(lists, axis=1)  # (Q, T)
    order = np.argsort(stacked, axis=1, kind="stable")  # equal items: earliest position first
    ordered = np.take_along_axis(stacked, order, axis=1)
    first = np.ones_like(ordered, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first &= ordered >= 0
    keep = np.zeros_like(first)
    np.put_along_axis(keep, order, first, axis=1)  # back to list positions
    compact = np.argsort(~keep, axis=1, kind="stable")  # kept positions first, in list order
    width = max(int(keep.sum(axis=1).max(initial=0)), 1)
    compact = compact[:, :width]
    return np.where(
        np.take_along_axis(keep, compact, axis=1), np.take_along_axis(stacked, compact, axis=1), -1
    )


def top_unexcluded(scores: np.ndarray, excluded: Sequence[np.ndarray] | None, depth: int) -> np.ndarray:
    """(Q, depth) the best items of each row of (Q, I) ``scores``, none of ``excluded[q]``, best first;
    -1 where fewer remain. (``Recommender.recommend_batch``'s exact path, in numpy: about a third
    cheaper for one user, which is what a served request asks.)"""
    masked = scores.copy()
    if excluded is not None:
        rows = np.repeat(np.arange(len(masked)), [len(x) for x in excluded])
        masked[rows, np.concatenate(excluded)] = -np.inf
    depth = min(depth, masked.shape[1])
    if depth < masked.shape[1]:
        top = np.argpartition(-masked, depth - 1, axis=1)[:, :depth]
    else:
        top = np.broadcast_to(np.arange(depth), masked.shape)
    rows = np.arange(len(masked))[:, None]  # fancy indexing: cheaper than take_along_axis here
    values = masked[rows, top]
    order = np.argsort(-values, axis=1, kind="stable")
    return np.where(np.isfinite(values[rows, order]), top[rows, order], -1)


def score_items(recommender: Recommender, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """(Q, C) the recommender's model scores of ``items`` (Q, C) for ``users`` (Q,); 0 at -1."""
    with torch.no_grad():
        scores = recommender.model.scores(torch.from_numpy(np.asarray(users, dtype=np.int64)))  # (Q, I)
    gathered = np.take_along_axis(scores.float().numpy(), np.maximum(items, 0), axis=1)
    return np.where(items >= 0, gathered, 0.0).astype(np.float32)


def retrieve(
    retrievers: Mapping[str, Recommender],
    depths: Mapping[str, int],
    users: np.ndarray,
    exclude: Sequence[np.ndarray] | None = None,
    exclude_known: bool = True,
) -> Candidates:
    """Merged candidates of ``users`` (Q,): each retriever's top ``depth`` items (its
    ``recommend_batch`` lists; through FAISS when it has an index, else from its exact scores by
    :func:`top_unexcluded`).

    Args:
        retrievers: name -> Recommender, all over the same users and items.
        depths: name -> how many items that retriever proposes per user.
        users: (Q,) internal user indices.
        exclude: per user, internal item indices never to propose (on top of the known items).
        exclude_known: also exclude each recommender's known items (train + valid, as saved).
    """
    sources = tuple(retrievers)
    if set(depths) != set(sources):
        raise ValueError(f"depths: names {sorted(depths)} differ from the retrievers {sorted(sources)}")
    users = np.asarray(users, dtype=np.int64)
    # Each retriever scores the users once: its list is ranked from the same rows its candidates'
    # scores are gathered from (through an index the list comes from FAISS and rows are scored after).
    full: dict[str, np.ndarray | None] = {}
    lists = []
    for s in sources:
        recommender = retrievers[s]
        if recommender.index is not None:
            full[s] = None
            lists.append(recommender.recommend_batch(users, depths[s], exclude, exclude_known)[0])
        else:
            full[s] = recommender.model_scores(users).numpy()
            excluded = recommender.exclusions(users, exclude, exclude_known)
            lists.append(top_unexcluded(full[s], excluded, depths[s]))
    items = merge_lists(lists)  # (Q, C)
    num_items = len(retrievers[sources[0]].item_ids)
    ranks = np.empty((*items.shape, len(sources)), dtype=np.float32)
    scores = np.empty_like(ranks)
    rows = np.arange(len(users))[:, None]
    safe = np.maximum(items, 0)
    for s, (name, found) in enumerate(zip(sources, lists, strict=True)):
        position = np.full((len(users), num_items + 1), depths[name], dtype=np.float32)  # column I: -1
        position[rows, np.where(found >= 0, found, num_items)] = np.arange(found.shape[1], dtype=np.float32)
        ranks[..., s] = np.where(items >= 0, position[rows, safe], 0.0)
        if full[name] is None:
            scores[..., s] = score_items(retrievers[name], users, items)
        else:
            scores[..., s] = np.where(items >= 0, full[name][rows, safe], 0.0)
    return Candidates(users, items, ranks, scores, sources, tuple(depths[s] for s in sources))


def candidate_labels(candidates: Candidates, relevant: sp.spmatrix) -> np.ndarray:
    """(Q, C) int32: 1 where the candidate is among the user's items in ``relevant`` (U, I)."""
    relevant = sp.csr_matrix(relevant)[candidates.users]
    rows = np.repeat(np.arange(len(candidates.users)), candidates.items.shape[1])
    found = np.asarray(relevant[rows, np.maximum(candidates.items, 0).ravel()]).ravel() > 0
    return (found.reshape(candidates.items.shape) & candidates.mask).astype(np.int32)
