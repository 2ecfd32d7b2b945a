"""One recommendation request through its stages: retrieval, filters, optional re-ranking.

Retrieval is ``Recommender.recommend`` (the model's scores, exactly or through its FAISS index, or
the cold-start path for users it does not know). When a re-ranker is plugged in, or the request
has an allow-list, ``Settings.candidates`` items are retrieved, filtered, re-ordered by the ranker
and cut to k; otherwise exactly k are retrieved and nothing else happens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from recsys.recommender import Recommendation, Recommender
from serving.metrics import Metrics
from serving.schemas import RecommendationRequest, Stage

COLD_SOURCES = ("item_to_item", "popularity")


class Ranker(Protocol):
    """The second stage: re-orders retrieved candidates (the LightGBM re-ranker plugs in here)."""

    def rerank(
        self, recommender: Recommender, request: RecommendationRequest, candidates: Recommendation
    ) -> tuple[list[str], list[float]]:
        """Candidate item ids and their new scores, best first; it may drop candidates but not add
        items. ``candidates`` holds up to ``Settings.candidates`` items after the request's filters,
        with the retrieval scores and ``source``; the service keeps the first ``request.k``."""
        ...


@dataclass(frozen=True)
class Ranked:
    answer: Recommendation
    stage: Stage


def recommend(
    recommender: Recommender,
    request: RecommendationRequest,
    ranker: Ranker | None,
    candidates: int,
    metrics: Metrics,
) -> Ranked:
    """Retrieve, filter and (with a ranker) re-rank; each stage's time goes to ``metrics.stage``."""
    wide = ranker is not None or request.allow_items is not None
    start = time.perf_counter()
    answer = recommender.recommend(
        request.user_id,
        max(request.k, candidates) if wide else request.k,
        recent_items=request.recent_items,
        exclude=request.exclude_items,
        exclude_known=request.exclude_seen,
    )
    retrieved = time.perf_counter()
    metrics.stage.labels("retrieval").observe(retrieved - start)
    stage = Stage.cold_start if answer.source in COLD_SOURCES else Stage.retrieval
    if request.allow_items is not None:
        allowed = set(request.allow_items)
        kept = [(i, s) for i, s in zip(answer.items, answer.scores, strict=True) if i in allowed]
        answer = Recommendation(
            [i for i, _ in kept], [s for _, s in kept], answer.source, answer.ignored_items
        )
        filtered = time.perf_counter()
        metrics.stage.labels("filter").observe(filtered - retrieved)
        retrieved = filtered
    if ranker is not None and answer.items:
        items, scores = ranker.rerank(recommender, request, answer)
        answer = Recommendation(list(items), list(scores), answer.source, answer.ignored_items)
        metrics.stage.labels("rerank").observe(time.perf_counter() - retrieved)
        stage = Stage.reranker
    if len(answer.items) > request.k:
        answer = Recommendation(
            answer.items[: request.k], answer.scores[: request.k], answer.source, answer.ignored_items
        )
    return Ranked(answer, stage)
