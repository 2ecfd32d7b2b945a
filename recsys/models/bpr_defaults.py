"""BPR's defaults that depend on the size of the training log (issue 14): learning rate, L2 and
embedding size, from the log's training events per embedding row (users plus items with events).

    SMALL (ML-100K 31, Amazon Scientific 3.1, Fashion 5.2 events per row)  lr 3e-3, L2 1e-2, dim 64
    LARGE (ML-1M 83 events per row)                                        lr 1e-3, L2 5e-4, dim 128

Both with 4 sampled negatives. The threshold is documented in ``LARGE_EVENTS_PER_ROW``'s comment. A
user who gives ``lr``, ``reg`` or ``dim`` keeps the given value.
"""

from __future__ import annotations

LARGE_EVENTS_PER_ROW = 60.0  # placeholder until benchmarks.defaults_logsize has run
SMALL = {"lr": 3e-3, "reg": 1e-2, "dim": 64}
LARGE = {"lr": 1e-3, "reg": 5e-4, "dim": 128}


def log_statistic(num_events: int, num_users: int, num_items: int) -> float:
    """Training events per embedding row: events over the users and items that have any."""
    if num_users < 1 or num_items < 1:
        raise ValueError(f"the training log has no events (num_users={num_users}, num_items={num_items})")
    return num_events / (num_users + num_items)


def log_defaults(num_events: int, num_users: int, num_items: int) -> dict[str, int | float]:
    """BPR's ``lr``, ``reg`` and ``dim`` for a training log of ``num_events`` events over
    ``num_users`` users and ``num_items`` items (those with at least one event)."""
    large = log_statistic(num_events, num_users, num_items) >= LARGE_EVENTS_PER_ROW
    return dict(LARGE if large else SMALL)


def describe(num_events: int, num_users: int, num_items: int) -> str:
    """One line saying which setting the log gets and why, e.g. for the CLI's run summary."""
    rate = log_statistic(num_events, num_users, num_items)
    kind, sign = ("large", ">=") if rate >= LARGE_EVENTS_PER_ROW else ("small", "<")
    values = log_defaults(num_events, num_users, num_items)
    return (
        f"{rate:.1f} training events per user-or-item embedding "
        f"({sign} {LARGE_EVENTS_PER_ROW:g}: {kind} log): "
        f"lr {values['lr']:g}, L2 {values['reg']:g}, dim {values['dim']}"
    )
