"""One recommendation request through its stages: retrieval or two-stage ranking, then filters.

Without a ranker a request is ``Recommender.recommend``: the model's scores (exactly or through
its FAISS index), or the cold-start path for users it does not know. With a two-stage ranker
(``ALIGNREC_RANKER_DIR``), a user the ranker knows is answered by :class:`TwoStage` instead: its
retrievers' merged candidates, re-ordered by the LightGBM ranker (``recsys.rerank``); users it does
not know keep the recommender's cold-start path. The ranker produces the whole answer; it does not
re-order another stage's list, since its candidates come from several retrievers at once.

With an allow-list ``Settings.candidates`` items are produced, filtered and cut to k; otherwise
exactly k.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recsys.ranking_features import candidate_features
from recsys.recommender import Recommendation, Recommender
from serving.metrics import Metrics
from serving.schemas import RecommendationRequest, Stage

if TYPE_CHECKING:
    from recsys.rerank import TwoStageRanker  # imports lightgbm: only when a ranker is served

COLD_SOURCES = ("item_to_item", "popularity")


@dataclass(frozen=True)
class TwoStage:
    """A ``TwoStageRanker`` with the retrievers it was trained with, answering in original ids.

    Every retriever has the same users and items (checked by :func:`two_stage`); ids are mapped
    through the first one.
    """

    ranker: TwoStageRanker
    retrievers: Mapping[str, Recommender]  # in the ranker's source order

    @property
    def lead(self) -> Recommender:
        return self.retrievers[self.ranker.sources[0]]

    @property
    def source(self) -> str:
        return "+".join(self.ranker.sources)

    def user_index(self, user_id: str | None) -> int | None:
        return None if user_id is None else self.lead.user_index(user_id)

    def rank(
        self, user: int, n: int, exclude: list[str], exclude_known: bool, metrics: Metrics
    ) -> Recommendation:
        """The ``n`` best items for the known user ``user`` (internal index), with the time of
        each stage (``retrieval``: every retriever's candidates; ``features``; ``lightgbm``: the
        booster's scores and the sort) in ``metrics.stage``.

        This is ``TwoStageRanker.rank`` taken apart at its public pieces, so that the stages can
        be timed separately.
        """
        skip, ignored = self.lead.item_indices(exclude)
        start = time.perf_counter()
        found = self.ranker.candidates(self.retrievers, np.array([user]), [skip], exclude_known)
        retrieved = time.perf_counter()
        features = candidate_features(found, self.ranker.tables, self.lead.train)  # (1, C, F)
        featured = time.perf_counter()
        scores = self.ranker.predict(features, found.mask)[0]  # (C,), -inf at padding
        order = np.argsort(-scores, kind="stable")[:n]
        order = order[np.isfinite(scores[order])]
        items = self.lead.item_ids[found.items[0][order]]
        answer = Recommendation(
            [str(i) for i in items], scores[order].astype(float).tolist(), self.source, ignored
        )
        metrics.stage.labels("retrieval").observe(retrieved - start)
        metrics.stage.labels("features").observe(featured - retrieved)
        metrics.stage.labels("lightgbm").observe(time.perf_counter() - featured)
        return answer


def two_stage(ranker: TwoStageRanker, retrievers: Mapping[str, Recommender]) -> TwoStage:
    """Check that ``retrievers`` (by name) are the ranker's, over the same ids, and warm them up."""
    missing = [name for name in ranker.sources if name not in retrievers]
    if missing:
        raise ValueError(f"retrievers: the ranker needs {list(ranker.sources)}, missing {missing}")
    ordered = {name: retrievers[name] for name in ranker.sources}
    ranker.check(ordered)
    lead = ordered[ranker.sources[0]]
    for name, recommender in ordered.items():
        if not (
            np.array_equal(recommender.user_ids, lead.user_ids)
            and np.array_equal(recommender.item_ids, lead.item_ids)
        ):
            raise ValueError(f"retriever {name!r}: its user or item ids differ from {ranker.sources[0]!r}'s")
    ranker.rank(ordered, 0, 1)  # first calls build caches (LightGCN's propagated embeddings)
    return TwoStage(ranker, ordered)


@dataclass(frozen=True)
class Ranked:
    answer: Recommendation
    stage: Stage


def recommend(
    recommender: Recommender,
    ranker: TwoStage | None,
    request: RecommendationRequest,
    candidates: int,
    metrics: Metrics,
) -> Ranked:
    """Answer one request; each stage's time goes to ``metrics.stage``."""
    n = max(request.k, candidates) if request.allow_items is not None else request.k
    user = ranker.user_index(request.user_id) if ranker is not None else None
    start = time.perf_counter()
    if ranker is not None and user is not None:
        exclude = [*request.recent_items, *request.exclude_items]
        answer = ranker.rank(user, n, exclude, request.exclude_seen, metrics)
        stage = Stage.reranker
    else:
        answer = recommender.recommend(
            request.user_id,
            n,
            recent_items=request.recent_items,
            exclude=request.exclude_items,
            exclude_known=request.exclude_seen,
        )
        metrics.stage.labels("retrieval").observe(time.perf_counter() - start)
        stage = Stage.cold_start if answer.source in COLD_SOURCES else Stage.retrieval
    if request.allow_items is not None:
        filtered = time.perf_counter()
        allowed = set(request.allow_items)
        kept = [(i, s) for i, s in zip(answer.items, answer.scores, strict=True) if i in allowed][: request.k]
        answer = Recommendation(
            [i for i, _ in kept], [s for _, s in kept], answer.source, answer.ignored_items
        )
        metrics.stage.labels("filter").observe(time.perf_counter() - filtered)
    return Ranked(answer, stage)
