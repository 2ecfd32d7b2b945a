"""CML's defaults that depend on the training log (issue 14): learning rate, embedding size, margin and
sampled negatives, from the log's mean training events per user and its training events per
user-or-item embedding row (``recsys.models.log_size.events_per_row``).

    events per user < 12 (sparse: Amazon Scientific 4.7, Fashion 5.5)  lr 4.5e-3, dim 128, margin 1.6, 5 neg.
    else, events per row < 40 (dense: ML-100K 31)                     lr 4.5e-3, dim 64, margin 1.4, 10 neg.
    else (large: ML-1M 83)                                              lr 6e-4, dim 64, margin 0.65, 5 neg.

Chosen on validation NDCG@10 only. Sparse vs dense (``benchmarks.defaults_sweep``, three training seeds
per point): on Amazon Scientific the sparse setting scores 1.05x the dense one's validation NDCG@10
(0.1031 vs 0.0982), on Fashion 1.007x (within its seed noise); on ML-100K it loses 9% (0.2331 vs
0.2555). The 12 comes from ML-100K with its training part thinned to K random events per user
(``benchmarks.defaults_density``, validation, two seeds): sparse / dense validation NDCG@10 is 1.37 at
8 events per user, 1.17 at 10, 0.99 at 12, 0.95 at 16, 0.93 at 23 and 0.95 at 29. The large setting is
the best point of the first 18 trials of a 30-trial ML-1M tune (lr 6.1e-4, margin 0.665, 5 negatives,
dim 64: validation 0.2303 against the dense setting's 0.2114), rounded; the 40 comes from ML-1M with a
random share of its users kept (``benchmarks.defaults_logsize --model cml``, validation, one seed):
large / dense is 0.998 at 35.8 events per row and 1.033 at 49.9. A user who gives ``lr``, ``dim``,
``margin`` or ``num_negatives`` keeps the given value.
"""

from __future__ import annotations

from recsys.models.log_size import events_per_row

SPARSE_EVENTS_PER_USER = 12.0  # below this mean of training events per user a log counts as sparse
LARGE_EVENTS_PER_ROW = 40.0  # from this many training events per user-or-item row a log counts as large
SPARSE = {"lr": 4.5e-3, "dim": 128, "margin": 1.6, "num_negatives": 5}
DENSE = {"lr": 4.5e-3, "dim": 64, "margin": 1.4, "num_negatives": 10}
LARGE = {"lr": 6e-4, "dim": 64, "margin": 0.65, "num_negatives": 5}


def events_per_user(num_events: int, num_users: int) -> float:
    """Mean training events per user with at least one event."""
    if num_users < 1:
        raise ValueError(f"the training log has no users with events (num_users={num_users})")
    return num_events / num_users


def kind(num_events: int, num_users: int, num_items: int) -> str:
    """Which setting a training log of ``num_events`` events over ``num_users`` users and ``num_items``
    items (those with at least one event) gets: "sparse", "dense" or "large"."""
    if events_per_user(num_events, num_users) < SPARSE_EVENTS_PER_USER:
        return "sparse"
    return "large" if events_per_row(num_events, num_users, num_items) >= LARGE_EVENTS_PER_ROW else "dense"


def log_defaults(num_events: int, num_users: int, num_items: int) -> dict[str, int | float]:
    """CML's ``lr``, ``dim``, ``margin`` and ``num_negatives`` for a training log (see ``kind``)."""
    return dict({"sparse": SPARSE, "dense": DENSE, "large": LARGE}[kind(num_events, num_users, num_items)])


def describe(num_events: int, num_users: int, num_items: int) -> str:
    """One line saying which setting the log gets and why, e.g. for the CLI's run summary."""
    chosen = kind(num_events, num_users, num_items)
    per_user = events_per_user(num_events, num_users)
    if chosen == "sparse":
        why = f"{per_user:.1f} training events per user (< {SPARSE_EVENTS_PER_USER:g}: sparse)"
    else:
        per_row = events_per_row(num_events, num_users, num_items)
        sign = ">=" if chosen == "large" else "<"
        why = (
            f"{per_user:.1f} training events per user, {per_row:.1f} per user-or-item "
            f"({sign} {LARGE_EVENTS_PER_ROW:g}: {chosen})"
        )
    v = log_defaults(num_events, num_users, num_items)
    return f"{why}: lr {v['lr']:g}, dim {v['dim']}, margin {v['margin']}, {v['num_negatives']} negatives"
