import pandas as pd
import pytest

from product.sizefit.split import split_by_customer_time


def test_each_customer_is_tested_on_her_latest_purchases(shop):
    train, test = split_by_customer_time(shop.frame, 0.2, seed=0)
    assert len(train) + len(test) == len(shop.frame)
    assert set(train.index).isdisjoint(test.index)
    last_train = train.groupby("customer_id")["review_date"].max()
    first_test = test.groupby("customer_id")["review_date"].min()
    both = last_train.index.intersection(first_test.index)
    assert (last_train[both] <= first_test[both]).all()


def test_single_purchase_customers_are_cold_on_one_side(shop):
    counts = shop.frame.groupby("customer_id").size()
    singles = set(counts[counts == 1].index)
    train, test = split_by_customer_time(shop.frame, 0.2, seed=0)
    cold = singles & set(test["customer_id"])
    assert cold and cold.isdisjoint(set(train["customer_id"]))
    # Customers with several purchases keep at least one in training.
    assert set(test["customer_id"]) - singles <= set(train["customer_id"])


def test_undated_records_use_file_order():
    frame = pd.DataFrame({"customer_id": ["a"] * 5, "line": [5, 1, 4, 2, 3], "review_date": pd.NaT})
    train, test = split_by_customer_time(frame, 0.4, seed=0)
    assert sorted(test["line"]) == [4, 5]


def test_bad_fraction():
    with pytest.raises(ValueError):
        split_by_customer_time(pd.DataFrame(), 1.5)
