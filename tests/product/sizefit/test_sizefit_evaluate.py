import numpy as np
import pandas as pd
import pytest

from product.sizefit.evaluate import (
    catalog_from_records,
    customer_mode_size,
    fit_metrics,
    product_mode_fit_size,
    product_rate_baseline,
)


def test_fit_metrics_on_a_known_case():
    truth = ["small", "fit", "fit", "large"]
    proba = np.array([[0.8, 0.2, 0.0], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.0, 0.3, 0.7]])
    metrics = fit_metrics(truth, proba, ["small", "fit", "small", "large"])
    assert metrics["f1_small"] == pytest.approx(2 / 3) and metrics["f1_fit"] == pytest.approx(2 / 3)
    assert metrics["f1_large"] == 1.0 and metrics["macro_f1"] == pytest.approx(7 / 9)
    assert metrics["auc_small"] == 1.0 and metrics["auc"] == 1.0


def test_auc_is_nan_for_a_missing_class():
    metrics = fit_metrics(["fit", "fit"], np.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]]), ["fit", "fit"])
    assert np.isnan(metrics["auc_small"]) and np.isnan(metrics["auc"])


TRAIN = pd.DataFrame(
    {
        "customer_id": ["a", "a", "a", "b", "c"],
        "product_id": ["p", "q", "q", "p", "p"],
        "category": ["dress", "dress", "top", "dress", "dress"],
        "size": [8.0, 8.0, 30.0, 6.0, 6.0],
        "fit": ["fit", "fit", "small", "fit", "fit"],
    }
)
CATALOG = {
    "p": np.array([4.0, 6.0, 8.0, 10.0]),
    "q": np.array([2.0, 4.0, 8.0, 12.0]),
    "r": np.array([1.0, 2.0, 3.0]),
}


def test_customer_mode_prefers_the_same_category_and_falls_back_to_the_product():
    requests = pd.DataFrame(
        {"customer_id": ["a", "a", "z"], "product_id": ["q", "p", "p"], "category": ["top", "dress", "dress"]}
    )
    # a's top size (30) snaps to q's nearest size 12; her dress size is 8;
    # z is unknown: p's most common fitting size, 6.
    assert customer_mode_size(TRAIN, requests, CATALOG).tolist() == [12.0, 8.0, 6.0]


def test_product_mode_fitting_size():
    requests = pd.DataFrame({"product_id": ["p", "q", "r"]})
    assert product_mode_fit_size(TRAIN, requests, CATALOG).tolist() == [6.0, 8.0, 2.0]


def test_product_rates_and_catalog():
    proba, predicted = product_rate_baseline(TRAIN, pd.DataFrame({"product_id": ["q", "new"]}))
    assert np.allclose(proba.sum(1), 1) and proba[0, 0] > proba[1, 0]
    assert predicted[0] == "small"
    assert catalog_from_records(TRAIN)["q"].tolist() == [8.0, 30.0]
