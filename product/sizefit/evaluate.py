"""Fit-prediction metrics, size-recommendation accuracy and the baselines they are compared with.

Protocol (what every number means):
- records are split per customer in time order (``split.split_by_customer_time``): each
  customer's latest purchases are test records, predicted from the earlier ones only;
- fit prediction: macro-F1 and per-class F1 of the predicted class, and one-vs-rest AUC of the
  calibrated probabilities (macro mean and per class), over all test records;
- recommended-size accuracy: over test records whose verdict was ``fit``, the share where the
  recommended size (among the product's catalog sizes) equals the size bought. A catalog is the
  set of sizes a product comes in; for the real files, every size seen for the product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, roc_auc_score

from product.sizefit.features import FIT_INDEX
from product.sizefit.recommend import SizeRecommender
from product.sizefit.records import FIT_LABELS


def fit_metrics(y_true: Sequence[str], proba: np.ndarray, predicted: Sequence[str]) -> dict[str, float]:
    """Macro-F1, per-class F1 and one-vs-rest AUC (macro and per class)."""
    y = np.asarray([FIT_INDEX[label] for label in y_true])
    y_hat = np.asarray([FIT_INDEX[label] for label in predicted])
    per_class = f1_score(y, y_hat, labels=[0, 1, 2], average=None, zero_division=0)
    out = {"macro_f1": float(per_class.mean())}
    out |= {f"f1_{label}": float(value) for label, value in zip(FIT_LABELS, per_class, strict=True)}
    aucs = []
    for index, label in enumerate(FIT_LABELS):
        positive = y == index
        auc = float(roc_auc_score(positive, proba[:, index])) if 0 < positive.sum() < len(y) else float("nan")
        out[f"auc_{label}"] = auc
        aucs.append(auc)
    out["auc"] = float(np.nanmean(aucs)) if not np.isnan(aucs).all() else float("nan")
    return out


def catalog_from_records(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every size seen for each product: the best available stand-in for a real catalog."""
    return {product: np.sort(sizes.unique()) for product, sizes in frame.groupby("product_id")["size"]}


def recommended_sizes(
    recommender: SizeRecommender, requests: pd.DataFrame, catalog: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, list[str]]:
    """The recommended size of each request row (customer, product, profile) and its basis."""
    sizes = [np.asarray(catalog[p], dtype=float) for p in requests["product_id"]]
    proba, basis = recommender.size_probabilities(requests, sizes)
    return np.asarray([s[np.argmax(p[:, 1])] for s, p in zip(sizes, proba, strict=True)]), basis


def _nearest(size: float, options: np.ndarray) -> float:
    return float(options[np.argmin(np.abs(options - size))])


def _mode(values: pd.Series) -> float:
    return float(values.mode().min())


def customer_mode_size(
    train: pd.DataFrame, requests: pd.DataFrame, catalog: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Baseline: the customer's most common size bought (in the same category when she has one
    there), snapped to the product's nearest size; a customer with no history gets the product's
    most common fitting size."""
    by_category = train.groupby(["customer_id", "category"])["size"].agg(_mode).to_dict()
    by_customer = train.groupby("customer_id")["size"].agg(_mode).to_dict()
    fallback = product_mode_fit_size(train, requests, catalog)
    out = []
    for (customer, product, category), default in zip(
        requests[["customer_id", "product_id", "category"]].itertuples(index=False), fallback, strict=True
    ):
        size = by_category.get((customer, category), by_customer.get(customer))
        out.append(default if size is None else _nearest(size, np.asarray(catalog[product])))
    return np.asarray(out)


def product_mode_fit_size(
    train: pd.DataFrame, requests: pd.DataFrame, catalog: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Baseline: the product's most common size among purchases that fitted (any purchase when
    none fitted; the catalog's middle size for a product nobody bought)."""
    fitted = train.loc[train["fit"] == "fit"].groupby("product_id")["size"].agg(_mode).to_dict()
    bought = train.groupby("product_id")["size"].agg(_mode).to_dict()
    out = []
    for product in requests["product_id"]:
        sizes = np.asarray(catalog[product])
        size = fitted.get(product, bought.get(product))
        out.append(sizes[len(sizes) // 2] if size is None else _nearest(size, sizes))
    return np.asarray(out, dtype=float)


def product_rate_baseline(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Baseline fit predictor: each product's label shares in training (smoothed towards the
    overall shares); the class is the one most over-represented relative to the overall shares."""
    prior = train["fit"].value_counts(normalize=True).reindex(FIT_LABELS, fill_value=0).to_numpy()
    counts = pd.crosstab(train["product_id"], train["fit"]).reindex(columns=FIT_LABELS, fill_value=0)
    rows = counts.reindex(test["product_id"]).fillna(0).to_numpy()
    proba = (rows + 5 * prior) / (rows.sum(1, keepdims=True) + 5)
    predicted = np.asarray(FIT_LABELS)[np.argmax(proba / np.maximum(prior, 1e-9), axis=1)]
    return proba, predicted


def evaluate_recommender(
    recommender: SizeRecommender, test: pd.DataFrame, catalog: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Fit metrics over all test records and size accuracy over the test records that fitted."""
    metrics = fit_metrics(test["fit"], recommender.predict_proba(test), recommender.predict(test))
    fitted = test.loc[test["fit"] == "fit"]
    sizes, basis = recommended_sizes(recommender, fitted, catalog)
    correct = sizes == fitted["size"].to_numpy()
    metrics["size_accuracy"] = float(correct.mean())
    for name in ("history", "measurements", "population"):
        chosen = np.asarray(basis) == name
        metrics[f"size_accuracy_{name}"] = float(correct[chosen].mean()) if chosen.any() else float("nan")
        metrics[f"share_{name}"] = float(chosen.mean())
    return metrics
