"""CML's defaults that depend on the training log (issue 14): embedding size, margin and sampled
negatives, from the log's mean training events per user.

    events per user < 12  (sparse: Amazon Scientific 4.7, Fashion 5.5)  dim 128, margin 1.6, 5 negatives
    events per user >= 12 (dense: ML-100K 85, ML-1M ~130)              dim 64, margin 1.4, 10 negatives

Chosen on validation NDCG@10 only, three training seeds per point (``benchmarks.defaults_sweep``,
``benchmarks/results/defaults_sweep.md``): on Amazon Scientific the sparse setting scores 1.05x the
dense one's validation NDCG@10 (0.1031 vs 0.0982), on Fashion 1.007x (within its seed noise); on
ML-100K it loses 9% (0.2331 vs 0.2555), so one setting for all logs cannot serve both. The threshold
comes from ML-100K with its training part thinned to K random events per user
(``benchmarks.defaults_density``, validation, two seeds): sparse / dense validation NDCG@10 is 1.37 at
8 events per user, 1.17 at 10, 0.99 at 12, 0.95 at 16, 0.93 at 23 and 0.95 at 29. A user who gives ``dim``,
``margin`` or ``num_negatives`` keeps the given value.
"""

from __future__ import annotations

SPARSE_EVENTS_PER_USER = 12.0  # below this mean of training events per user a log counts as sparse
SPARSE = {"dim": 128, "margin": 1.6, "num_negatives": 5}
DENSE = {"dim": 64, "margin": 1.4, "num_negatives": 10}


def events_per_user(num_events: int, num_users: int) -> float:
    """Mean training events per user with at least one event."""
    if num_users < 1:
        raise ValueError(f"the training log has no users with events (num_users={num_users})")
    return num_events / num_users


def log_defaults(num_events: int, num_users: int) -> dict[str, int | float]:
    """CML's ``dim``, ``margin`` and ``num_negatives`` for a training log of ``num_events`` events
    over ``num_users`` users (those with at least one event)."""
    sparse = events_per_user(num_events, num_users) < SPARSE_EVENTS_PER_USER
    return dict(SPARSE if sparse else DENSE)


def describe(num_events: int, num_users: int) -> str:
    """One line saying which setting the log gets and why, e.g. for the CLI's run summary."""
    rate = events_per_user(num_events, num_users)
    kind, sign = ("sparse", "<") if rate < SPARSE_EVENTS_PER_USER else ("dense", ">=")
    values = log_defaults(num_events, num_users)
    return (
        f"{rate:.1f} training events per user ({sign} {SPARSE_EVENTS_PER_USER:g}: {kind}): "
        f"dim {values['dim']}, margin {values['margin']}, {values['num_negatives']} negatives"
    )
