"""LightGCN's default batch size, from the size of the training log (issue 14).

Every LightGCN step propagates the whole user-item graph (3 sparse products forward, 3 backward), so
a step costs about the same whatever its batch, and an epoch of B-event batches costs events / B
of them. At 2,048 events a batch an epoch of ML-100K is 40 steps, but one of ML-1M (805k training
events, 10x the edges) is 394 steps of a 10x larger graph: 73 CPU seconds against 17 at 40 steps of
20,480 events (one thread, dim 128, 4 negatives). The batch therefore grows with the log so that an
epoch stays at ``STEPS_PER_EPOCH`` steps, rounded up to a multiple of 1,024 and never below 2,048:
ML-100K (80,808 training events), Amazon Fashion and Scientific keep 2,048 (what their defaults and
tunes were measured with); ML-1M gets 20,480. A user who gives ``--batch-size`` keeps it.
"""

from __future__ import annotations

import math

STEPS_PER_EPOCH = 40
MIN_BATCH = 2048
ROUND_TO = 1024


def log_defaults(num_events: int, num_users: int, num_items: int) -> dict[str, int]:
    """LightGCN's ``batch_size`` for a training log of ``num_events`` events (users and items are
    part of the common signature of the log rules and do not enter)."""
    if num_events < 1:
        raise ValueError(f"the training log has no events (num_events={num_events})")
    batch = math.ceil(num_events / STEPS_PER_EPOCH / ROUND_TO) * ROUND_TO
    return {"batch_size": max(MIN_BATCH, batch)}


def describe(num_events: int, num_users: int, num_items: int) -> str:
    """One line saying which batch the log gets and why, e.g. for the CLI's run summary."""
    batch = log_defaults(num_events, num_users, num_items)["batch_size"]
    steps = math.ceil(num_events / batch)
    why = (
        "the minimum batch"
        if batch == MIN_BATCH
        else f"the batch grows to keep <= {STEPS_PER_EPOCH} steps: each step propagates the whole graph"
    )
    plural = "" if steps == 1 else "s"
    return f"{num_events:,} training events: batch {batch:,}, {steps} step{plural} an epoch ({why})"
