"""BPR's defaults that depend on the size of the training log (issue 14): learning rate, L2 and
embedding size, from the log's training events per embedding row (users plus items with events).

    SMALL (ML-100K 31, Amazon Scientific 3.1, Fashion 5.2 events per row)  lr 3e-3, L2 1e-2, dim 64
    LARGE (ML-1M 83 events per row)                                        lr 1e-3, L2 5e-4, dim 128

Both with 4 sampled negatives. The large-log setting is the point that matched a 30-trial ML-1M tune
on validation (0.2141 vs 0.2142; it costs Amazon Scientific 6.7% of validation NDCG@10). The threshold
comes from ML-1M with a random share of its users kept (``benchmarks.defaults_logsize``, validation,
two training seeds): large / small validation NDCG@10 is 0.936 at 22.8 events per row, 0.956 at 35.8,
0.975 at 49.9, 1.002 at 66.5, 1.019 at 75.5 and about 1.03 at 82.9 (all of ML-1M); the linear
crossing is ~65. A user who gives ``lr``, ``reg`` or ``dim`` keeps the given value.
"""

from __future__ import annotations

from recsys.models.log_size import events_per_row

LARGE_EVENTS_PER_ROW = 65.0  # from this many training events per user-or-item row a log counts as large
SMALL = {"lr": 3e-3, "reg": 1e-2, "dim": 64}
LARGE = {"lr": 1e-3, "reg": 5e-4, "dim": 128}


def log_defaults(num_events: int, num_users: int, num_items: int) -> dict[str, int | float]:
    """BPR's ``lr``, ``reg`` and ``dim`` for a training log of ``num_events`` events over
    ``num_users`` users and ``num_items`` items (those with at least one event)."""
    large = events_per_row(num_events, num_users, num_items) >= LARGE_EVENTS_PER_ROW
    return dict(LARGE if large else SMALL)


def describe(num_events: int, num_users: int, num_items: int) -> str:
    """One line saying which setting the log gets and why, e.g. for the CLI's run summary."""
    rate = events_per_row(num_events, num_users, num_items)
    kind, sign = ("large", ">=") if rate >= LARGE_EVENTS_PER_ROW else ("small", "<")
    values = log_defaults(num_events, num_users, num_items)
    return (
        f"{rate:.1f} training events per user-or-item embedding "
        f"({sign} {LARGE_EVENTS_PER_ROW:g}: {kind} log): "
        f"lr {values['lr']:g}, L2 {values['reg']:g}, dim {values['dim']}"
    )
