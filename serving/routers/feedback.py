"""``POST /v1/feedback``: batches of user events, acknowledged once committed, stored once each."""

from __future__ import annotations

from fastapi import APIRouter

from serving.deps import State, check_limit
from serving.schemas import FeedbackAck, FeedbackBatch

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post("/feedback")
def feedback(body: FeedbackBatch, state: State) -> FeedbackAck:
    """Events are keyed by ``client_event_id``: retry a batch that got no answer, and the events
    already stored are counted as duplicates, not stored again. A 200 means committed to disk."""
    check_limit(
        len(body.events), state.settings.max_batch_size, ("body", "events"), "ALIGNREC_MAX_BATCH_SIZE"
    )
    rows = []
    for event in body.events:
        row = event.model_dump(mode="json")
        row["event_time"] = row.pop("timestamp")
        rows.append(row)
    result = state.store.add(rows)
    state.metrics.feedback.labels("stored").inc(result.stored)
    state.metrics.feedback.labels("duplicate").inc(result.duplicates)
    return FeedbackAck(stored=result.stored, duplicates=result.duplicates)
