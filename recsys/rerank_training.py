"""Fitting a two-stage ranker on a split: the retrievers' candidates for the validation users,
labelled by the users' validation items (which no retriever trained on), LambdaRank fitted on most
of those users and early-stopped and chosen on the rest.

:func:`train_two_stage` is what ``alignrec rerank`` and ``benchmarks.rerank`` call; the batch
helpers (:func:`candidate_batches`, :func:`list_ndcg`, :func:`top_lists`, :func:`evaluate_lists`)
are shared with the benchmark's references (reciprocal rank fusion, features-only rankers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from recsys.candidates import Candidates, candidate_labels, retrieve
from recsys.ranking_features import FeatureTables, build_tables, candidate_features, feature_names
from recsys.recommender import Recommender
from recsys.rerank import TwoStageRanker, fit_ranker, flatten
from recsys.splits import Split

# LightGBM settings tried by default; the best NDCG@10 on the tuning users wins. Shallow trees and a
# high learning rate stop after a few dozen rounds: the second stage stays cheap to serve.
DEFAULT_CONFIGS = (
    {"num_leaves": 15, "learning_rate": 0.1, "min_child_samples": 100},
    {"num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 100},
)
Part = tuple[Candidates, np.ndarray, np.ndarray, float, float]  # candidates, features, labels, seconds x2
Score = Callable[[Candidates, np.ndarray], np.ndarray]  # (candidates, features) -> (Q, C) scores


def candidate_batches(
    retrievers: Mapping[str, Recommender],
    depths: Mapping[str, int],
    tables: FeatureTables,
    users: np.ndarray,
    relevant: sp.csr_matrix,
    exclude: str,
    batch: int = 1000,
    progress: bool = False,
) -> list[Part]:
    """Per batch of users: (candidates, features, labels from ``relevant``, seconds spent on
    candidates, seconds on features). ``exclude``: ``"train"`` (the training items only: fitting
    on validation labels) or ``"known"`` (train + valid, as saved: testing)."""
    if exclude not in ("train", "known"):
        raise ValueError(f"exclude: 'train' or 'known', got {exclude!r}")
    history = next(iter(retrievers.values())).train
    parts = []
    starts = range(0, len(users), batch)
    for begin in tqdm(starts, desc="candidates", unit="batch", disable=None if progress else True):
        chunk = users[begin : begin + batch]
        extra = [history.indices[history.indptr[u] : history.indptr[u + 1]] for u in chunk]
        t0 = time.perf_counter()
        found = retrieve(
            retrievers,
            depths,
            chunk,
            exclude=extra if exclude == "train" else None,
            exclude_known=exclude == "known",
        )
        t1 = time.perf_counter()
        features = candidate_features(found, tables, history)
        t2 = time.perf_counter()
        parts.append((found, features, candidate_labels(found, relevant), t1 - t0, t2 - t1))
    return parts


def stack(parts: Sequence[Part], columns: slice | list[int] = slice(None)) -> tuple[np.ndarray, ...]:
    """LightGBM's (rows, labels, group sizes) of several batches (users without a relevant
    candidate left out), optionally only some feature columns."""
    x, y, g = zip(*(flatten(f[..., columns], lab, c.mask) for c, f, lab, *_ in parts), strict=True)
    return np.concatenate(x), np.concatenate(y), np.concatenate(g)


def list_ndcg(parts: Sequence[Part], score: Score, relevant: sp.csr_matrix, k: int = 10) -> float:
    """NDCG@k of the candidates re-ordered by ``score``, every relevant item in the denominator
    (a relevant item that is not a candidate counts as a miss)."""
    from recsys.metrics import ndcg_at_k

    values = []
    for found, features, labels, *_ in parts:
        order = np.argsort(-score(found, features), axis=1, kind="stable")[:, :k]
        hits = np.take_along_axis(labels, order, axis=1) > 0
        values.append(ndcg_at_k(hits, np.diff(relevant.indptr)[found.users], k))
    return float(np.concatenate(values).mean())


def top_lists(parts: Sequence[Part], score: Score, k: int, num_users: int) -> np.ndarray:
    """(U, k) item lists, best first by ``score``; -1 for users not in ``parts`` and past the end."""
    ranked = np.full((num_users, k), -1, dtype=np.int64)
    for found, features, *_ in parts:
        scores = score(found, features)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(found.items, order, axis=1)
        finite = np.isfinite(np.take_along_axis(scores, order, axis=1))
        ranked[found.users, : top.shape[1]] = np.where(finite, top, -1)
    return ranked


def evaluate_lists(ranked: np.ndarray, split: Split, known: sp.csr_matrix, ks: Sequence[int] = (10, 20)):
    """(U, k) lists through ``recsys.evaluate.evaluate_scores`` on the test split (full ranking:
    list positions as scores, -inf off the list). Returns its ``EvalResult``."""
    from recsys.evaluate import evaluate_scores

    num_items = split.train.num_items

    def score_fn(users: np.ndarray) -> np.ndarray:
        out = np.full((len(users), num_items), -np.inf, dtype=np.float32)
        lists = ranked[users]
        rows = np.broadcast_to(np.arange(len(users))[:, None], lists.shape)
        position = np.broadcast_to(np.arange(lists.shape[1], 0, -1, dtype=np.float32), lists.shape)
        keep = lists >= 0
        out[rows[keep], lists[keep]] = position[keep]
        return out

    return evaluate_scores(score_fn, split.test, known, ks=ks)


def ranker_score(ranker: TwoStageRanker) -> Score:
    return lambda found, features: ranker.predict(features, found.mask)


def first_retriever_order(found: Candidates, _: np.ndarray) -> np.ndarray:
    """The first retriever's own order (its rank), as a score: the baseline a ranker must beat."""
    return np.where(found.mask, -found.ranks[..., 0], -np.inf)


@dataclass
class TwoStageFit:
    """A fitted ranker, how it did on the tuning users, and every configuration tried."""

    ranker: TwoStageRanker
    tune_ndcg: float  # NDCG@10 of the kept ranker's order on the tuning users' validation items
    tune_ndcg_first_retriever: float  # the first retriever's own order on the same candidates
    trials: list[dict] = field(default_factory=list)  # config, rounds, tune NDCG, seconds
    fit_parts: list[Part] = field(default_factory=list, repr=False)
    tune_parts: list[Part] = field(default_factory=list, repr=False)


def item_vectors_of(retrievers: Mapping[str, Recommender]) -> np.ndarray:
    """(I, d) item vectors of the first retriever that has them (for the cosine features)."""
    for recommender in retrievers.values():
        try:
            vectors = recommender.model.item_vectors().detach().float().numpy()
        except NotImplementedError:
            continue
        if vectors.shape[1] > 1:  # popularity's one column would make every cosine 1
            return vectors
    names = list(retrievers)
    raise ValueError(f"retrievers {names}: none has item vectors (give bpr, lightgcn, cml, ...)")


def train_two_stage(
    retrievers: Mapping[str, Recommender],
    depths: Mapping[str, int],
    split: Split,
    item_genres: np.ndarray | None = None,
    item_year: np.ndarray | None = None,
    item_vectors: np.ndarray | None = None,
    configs: Sequence[dict] = DEFAULT_CONFIGS,
    tune_share: float = 0.2,
    seed: int = 2026,
    threads: int = 1,
    batch: int = 1000,
    progress: bool = False,
) -> TwoStageFit:
    """Fit LambdaRank over ``retrievers``' merged candidates (``depths`` per retriever, in feature
    order) on ``split``'s validation users and keep the best of ``configs`` on a held-out
    ``tune_share`` of them.

    Args:
        retrievers: name -> Recommender trained on ``split.train`` (same users and items).
        item_genres: (I, G) multi-hot genres, or None (genre features are then 0).
        item_year: (I,) release years (0 = unknown), or None.
        item_vectors: (I, d) vectors for the cosine features; default: the first retriever's
            that has item vectors (``item_vectors_of``).
    """
    if set(depths) != set(retrievers):
        raise ValueError(f"depths {sorted(depths)} must name exactly the retrievers {sorted(retrievers)}")
    if not 0 < tune_share < 1:
        raise ValueError(f"tune_share: expected a fraction in (0, 1), got {tune_share}")
    retrievers = {name: retrievers[name] for name in depths}
    num_items = split.train.num_items
    for name, recommender in retrievers.items():
        if recommender.train.shape != (split.train.num_users, num_items):
            raise ValueError(
                f"retriever {name!r}: {recommender.train.shape} users x items, the split has "
                f"{(split.train.num_users, num_items)}; train it on this split"
            )
    genres = np.zeros((num_items, 1), np.float32) if item_genres is None else np.asarray(item_genres)
    years = np.zeros(num_items, np.float32) if item_year is None else np.asarray(item_year)
    vectors = item_vectors_of(retrievers) if item_vectors is None else np.asarray(item_vectors)
    tables = build_tables(split.train, genres, years, vectors)
    valid = split.valid.to_csr()
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    if len(users) < 10:
        raise ValueError(f"the validation split has {len(users)} users with items; the ranker needs more")
    rng = np.random.default_rng(seed)
    tune_users = np.sort(rng.choice(users, size=max(int(len(users) * tune_share), 1), replace=False))
    fit_users = np.setdiff1d(users, tune_users)
    options = {"exclude": "train", "batch": batch, "progress": progress}
    fit_parts = candidate_batches(retrievers, depths, tables, fit_users, valid, **options)
    tune_parts = candidate_batches(retrievers, depths, tables, tune_users, valid, **options)
    fit_data, tune_data = stack(fit_parts), stack(tune_parts)
    if len(fit_data[2]) == 0 or len(tune_data[2]) == 0:
        raise ValueError("no validation item is among the candidates: deepen the retrievers (depths)")
    names = feature_names(tuple(depths))
    trials, best = [], None
    for config in configs:
        start = time.perf_counter()
        fitted = fit_ranker(fit_data, tune_data, names=names, seed=seed, threads=threads, **config)
        ranker = TwoStageRanker(fitted.booster_, tuple(depths), tuple(depths.values()), tables)
        score = list_ndcg(tune_parts, ranker_score(ranker), valid)
        trials.append(
            {
                "config": dict(config),
                "rounds": ranker.best_iteration,
                "tune_ndcg@10": score,
                "seconds": time.perf_counter() - start,
            }  # fmt: skip
        )
        if best is None or score > best[0]:
            best = (score, ranker, dict(config))
    tune_score, ranker, config = best
    baseline = list_ndcg(tune_parts, first_retriever_order, valid)
    ranker.info = {
        "protocol": f"labels: validation items of {len(fit_users)} users; early stopping and the "
        f"choice among {len(trials)} configurations on {len(tune_users)} other validation users",
        "config": config,
        "rounds": ranker.best_iteration,
        "tune_ndcg@10": round(tune_score, 4),
        "tune_ndcg@10_first_retriever": round(baseline, 4),
        "split_checksum": split.checksum,
    }
    return TwoStageFit(ranker, tune_score, baseline, trials, fit_parts, tune_parts)
