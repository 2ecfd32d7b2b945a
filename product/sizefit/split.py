"""Per-customer time-ordered train/test split of fit records."""

from __future__ import annotations

import numpy as np
import pandas as pd


def split_by_customer_time(
    frame: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out each customer's latest purchases; customers with one purchase go wholly to one side.

    A customer with n >= 2 purchases keeps her first ones for training and has her last
    ``max(1, round(test_fraction * n))`` (at most n - 1) in the test set, so that test predictions
    only ever read the past. A customer with a single purchase is a test customer (a cold one) with
    probability ``test_fraction``. Time is ``review_date``, ties and missing dates broken by file
    ``line`` (ModCloth has no dates, so its file order stands for time).
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = frame.sort_values(["review_date", "line"], na_position="first", kind="stable")
    rank = order.groupby("customer_id").cumcount(ascending=False).to_numpy()  # 0 = latest
    count = order.groupby("customer_id")["line"].transform("size").to_numpy()
    held = np.clip(np.round(test_fraction * count), 1, np.maximum(count - 1, 1))
    test = (count > 1) & (rank < held)
    single = order["customer_id"].to_numpy()[count == 1]
    rng = np.random.default_rng(seed)
    cold = set(single[rng.random(len(single)) < test_fraction])
    test |= (count == 1) & order["customer_id"].isin(cold).to_numpy()
    return order[~test], order[test]  # both in time order
