"""Turn canonical fit records into model inputs, with everything learned from the training records.

``FeatureSpace`` is fitted once on the records a model is trained on (its "store") and holds:
- vocabularies (customers, products, categories, body types; index 0 is "unknown");
- size ladders: a size becomes ``(size - centre) / step`` steps. The centre is the category's
  median size, or the product's own median when the product is clearly on another size scale
  (jeans sized 26-32 among tops sized 4-12); the step is the product's smallest size gap;
- the store's purchases themselves (product, size step, label, what the review says), and each
  customer's latest ``HISTORY`` of them: the model reads a customer's past purchases as evidence
  of her size, in the context of the product and size each one was;
- per product, sums over its purchases: count, fit labels and, with reviews, review signals;
- each customer's latest measurements and body type, for requests that give only an id.

Records that are themselves in the store are encoded leave-one-out (``self_rows``): their own
purchase is taken out of their customer's history and their product's sums, so that the model
never reads the outcome it predicts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import torch

from product.sizefit.records import FIT_LABELS, MEASUREMENTS

FIT_INDEX = {label: index for index, label in enumerate(FIT_LABELS)}
HISTORY = 12  # past purchases read per customer (the latest ones)
SCALE_JUMP = 3.0  # steps between a product's median size and its category's that mean "another scale"


@dataclass
class FitInputs:
    """Model inputs for N records; H = HISTORY past purchases of each record's customer."""

    customer: torch.Tensor  # (N,) long, 0 = unknown
    product: torch.Tensor  # (N,) long, 0 = unknown
    category: torch.Tensor  # (N,) long, 0 = unknown
    body_type: torch.Tensor  # (N,) long, 0 = unknown
    step: torch.Tensor  # (N,) float, the size in ladder steps
    profile: torch.Tensor  # (N, 2M) standardised measurements (0 when missing), then a was-given mask
    product_dense: torch.Tensor  # (N, F) the product's purchase count, label shares, review signals
    hist_product: torch.Tensor  # (N, H) long, the customer's past purchases' products
    hist_category: torch.Tensor  # (N, H) long
    hist_step: torch.Tensor  # (N, H) float
    hist_label: torch.Tensor  # (N, H) long
    hist_review: torch.Tensor  # (N, H, R) what each past review says; R = 0 without reviews
    hist_mask: torch.Tensor  # (N, H) bool, which of the H slots hold a purchase

    def __len__(self) -> int:
        return len(self.customer)

    def select(self, index: torch.Tensor) -> FitInputs:
        return FitInputs(*(getattr(self, f.name)[index] for f in fields(self)))


@dataclass
class FeatureSpace:
    customers: list[str]
    products: list[str]
    categories: list[str]
    body_types: list[str]
    measure_mean: np.ndarray  # (M,)
    measure_std: np.ndarray  # (M,)
    product_centre: np.ndarray  # (P+1,); row 0 unused
    product_step: np.ndarray  # (P+1,)
    product_category: np.ndarray  # (P+1,) int
    category_centre: np.ndarray  # (C+1,); row 0 = all products
    category_step: np.ndarray  # (C+1,)
    product_sums: np.ndarray  # (P+1, 3 + R + 1): count, small, large, review-signal sums, reviews
    customer_measures: np.ndarray  # (U+1, M), NaN where unknown
    customer_body: np.ndarray  # (U+1,) int
    customer_history: np.ndarray  # (U+1, H) store rows of the customer's latest purchases, -1 padded
    history_product: np.ndarray  # (S,) int, one entry per store record
    history_step: np.ndarray  # (S,)
    history_label: np.ndarray  # (S,) int
    history_review: np.ndarray  # (S, R) review signals, zero rows where there is no review

    def __post_init__(self) -> None:
        self.customer_index = {name: i + 1 for i, name in enumerate(self.customers)}
        self.product_index = {name: i + 1 for i, name in enumerate(self.products)}
        self.category_index = {name: i + 1 for i, name in enumerate(self.categories)}
        self.body_index = {name: i + 1 for i, name in enumerate(self.body_types)}

    @property
    def review_dim(self) -> int:
        return self.history_review.shape[1]

    @property
    def num_product_dense(self) -> int:
        return 3 + (self.review_dim + 2 if self.review_dim else 0)

    def has_history(self, customer: np.ndarray) -> np.ndarray:
        """(N,) bool for customer indices (N,): whether the store holds a purchase of theirs."""
        return self.customer_history[customer, 0] >= 0

    def to_state(self) -> dict:
        """Plain lists and tensors only, so that ``torch.load(weights_only=True)`` reads it."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in state.items()}

    @classmethod
    def from_state(cls, state: dict) -> FeatureSpace:
        return cls(**{k: v.numpy() if isinstance(v, torch.Tensor) else list(v) for k, v in state.items()})


def _ids(values: pd.Series, index: dict[str, int]) -> np.ndarray:
    return values.map(index).fillna(0).to_numpy(dtype=np.int64)


def _ladders(
    frame: pd.DataFrame, product: np.ndarray, category: np.ndarray, num_products: int, num_categories: int
):
    """Centre and step of every product's size ladder, and each category's (row 0: all products)."""
    sizes = frame.groupby(product)["size"]
    median = np.zeros(num_products + 1)
    median[sizes.median().index] = sizes.median().to_numpy()
    step = np.full(num_products + 1, np.nan)
    for p, values in sizes:
        gaps = np.diff(np.unique(values.to_numpy()))
        if len(gaps):
            step[p] = gaps.min()
    product_category = np.zeros(num_products + 1, dtype=np.int64)
    product_category[product] = category
    category_centre = np.full(num_categories + 1, frame["size"].median())
    category_step = np.full(num_categories + 1, np.nanmedian(step) if np.isfinite(step).any() else 1.0)
    for c in range(1, num_categories + 1):
        category_centre[c] = np.median(frame["size"].to_numpy()[category == c])
        steps = step[1:][product_category[1:] == c]
        if np.isfinite(steps).any():
            category_step[c] = np.nanmedian(steps)
    # A product seen in sizes 6, 10 and 12 still has a step of 2: keep within [1/2, 2] of typical.
    typical = category_step[product_category]
    step = np.where(np.isfinite(step), np.clip(step, typical / 2, typical * 2), typical)
    # On its category's scale, a product is measured from the category's centre: a median over a
    # few dozen buyers would only add noise, and the product's own sizing is its latent offset.
    own_scale = np.abs(median - category_centre[product_category]) > SCALE_JUMP * typical
    centre = np.where(own_scale, median, category_centre[product_category])
    return centre, step, product_category, category_centre, category_step


def build_feature_space(frame: pd.DataFrame, review_signals: np.ndarray | None = None) -> FeatureSpace:
    """Fit vocabularies, size ladders and the purchase history on the training records.

    Args:
        frame: canonical records (``product.sizefit.records.COLUMNS``); row order = store order.
        review_signals: (N, R) what each record's review says (zero rows where none), aligned
            with ``frame``; None to use no reviews.
    """
    customers = sorted(frame["customer_id"].unique())
    products = sorted(frame["product_id"].unique())
    categories = sorted(set(frame["category"]) - {""})
    body_types = sorted(set(frame["body_type"]) - {""})
    customer = _ids(frame["customer_id"], {n: i + 1 for i, n in enumerate(customers)})
    product = _ids(frame["product_id"], {n: i + 1 for i, n in enumerate(products)})
    category = _ids(frame["category"], {n: i + 1 for i, n in enumerate(categories)})
    centre, step, product_category, category_centre, category_step = _ladders(
        frame, product, category, len(products), len(categories)
    )

    measures = frame[list(MEASUREMENTS)].to_numpy(dtype=np.float64)
    seen = ~np.isnan(measures)
    count = np.maximum(seen.sum(0), 1)
    measure_mean = np.where(seen, measures, 0.0).sum(0) / count
    measure_std = np.sqrt(np.where(seen, (measures - measure_mean) ** 2, 0.0).sum(0) / count)
    measure_std[measure_std < 1e-6] = 1.0

    label = frame["fit"].map(FIT_INDEX).to_numpy()
    reviews = np.zeros((len(frame), 0)) if review_signals is None else review_signals
    own = np.concatenate([np.ones((len(frame), 1)), label[:, None] == 0, label[:, None] == 2], axis=1)
    if reviews.shape[1]:
        own = np.concatenate([own, reviews, np.abs(reviews).sum(1, keepdims=True) > 0], axis=1)
    product_sums = np.zeros((len(products) + 1, own.shape[1]))
    np.add.at(product_sums, product, own)

    # Each customer's latest purchases and measurements (time = review date, then file line).
    order = frame.assign(_c=customer, _row=np.arange(len(frame)))
    order = order.sort_values(["review_date", "line"], na_position="first", kind="stable")
    customer_history = np.full((len(customers) + 1, HISTORY), -1, dtype=np.int64)
    for c, rows in order.groupby("_c")["_row"]:
        latest = rows.to_numpy()[-HISTORY:]
        customer_history[c, : len(latest)] = latest
    order["body_type"] = order["body_type"].replace("", np.nan)
    latest = order.groupby("_c").last()  # the last non-missing value of each column
    customer_measures = np.full((len(customers) + 1, len(MEASUREMENTS)), np.nan)
    customer_measures[latest.index] = latest[list(MEASUREMENTS)].to_numpy(dtype=np.float64)
    customer_body = np.zeros(len(customers) + 1, dtype=np.int64)
    customer_body[latest.index] = _ids(latest["body_type"], {n: i + 1 for i, n in enumerate(body_types)})

    return FeatureSpace(
        customers=customers,
        products=products,
        categories=categories,
        body_types=body_types,
        measure_mean=measure_mean.astype(np.float32),
        measure_std=measure_std.astype(np.float32),
        product_centre=centre,
        product_step=step,
        product_category=product_category,
        category_centre=category_centre,
        category_step=category_step,
        product_sums=product_sums.astype(np.float32),
        customer_measures=customer_measures.astype(np.float32),
        customer_body=customer_body,
        customer_history=customer_history,
        history_product=product,
        history_step=((frame["size"].to_numpy() - centre[product]) / step[product]).astype(np.float32),
        history_label=label.astype(np.int64),
        history_review=reviews.astype(np.float32),
    )


def encode_rows(space: FeatureSpace, frame: pd.DataFrame, self_rows: np.ndarray | None = None) -> FitInputs:
    """Model inputs for records, or for candidate sizes to score.

    Args:
        space: the fitted feature space.
        frame: canonical columns (``fit`` is not read).
        self_rows: (N,) the store row of each record when the records are store records (for
            training); each one's own purchase is then left out of what it reads. None for new
            records.
    """
    customer = _ids(frame["customer_id"], space.customer_index)
    product = _ids(frame["product_id"], space.product_index)
    category = _ids(frame["category"], space.category_index)
    category = np.where(product > 0, space.product_category[product], category)
    body = _ids(frame["body_type"], space.body_index)

    known = product > 0
    centre = np.where(known, space.product_centre[product], space.category_centre[category])
    step_size = np.where(known, space.product_step[product], space.category_step[category])
    step = (frame["size"].to_numpy(dtype=np.float64) - centre) / step_size

    measures = (frame[list(MEASUREMENTS)].to_numpy(dtype=np.float64) - space.measure_mean) / space.measure_std
    profile = np.concatenate([np.nan_to_num(measures), ~np.isnan(measures)], axis=1)

    sums = space.product_sums[product].astype(np.float64)  # (N, 3 + R + 1)
    rows = space.customer_history[customer]  # (N, H)
    if self_rows is not None:
        label = space.history_label[self_rows]
        own = np.concatenate([np.ones((len(frame), 1)), label[:, None] == 0, label[:, None] == 2], axis=1)
        if space.review_dim:
            review = space.history_review[self_rows]
            own = np.concatenate([own, review, np.abs(review).sum(1, keepdims=True) > 0], axis=1)
        sums -= own * known[:, None]
        rows = np.where(rows == self_rows[:, None], -1, rows)
    count = np.maximum(sums[:, :1], 1.0)
    dense = [np.log1p(sums[:, :1]), sums[:, 1:3] / count]  # purchases, share small, share large
    if space.review_dim:
        reviewed = sums[:, -1:]
        dense += [sums[:, 3:-1] / np.maximum(reviewed, 1.0), reviewed > 0, np.log1p(reviewed)]
    product_dense = np.concatenate([np.asarray(part, dtype=np.float32) for part in dense], axis=1)

    mask = rows >= 0
    safe = np.where(mask, rows, 0)
    hist_product = np.where(mask, space.history_product[safe], 0)
    return FitInputs(
        customer=torch.tensor(customer),
        product=torch.tensor(product),
        category=torch.tensor(category),
        body_type=torch.tensor(body),
        step=torch.tensor(step, dtype=torch.float32),
        profile=torch.tensor(profile, dtype=torch.float32),
        product_dense=torch.tensor(product_dense),
        hist_product=torch.tensor(hist_product),
        hist_category=torch.tensor(space.product_category[hist_product]),
        hist_step=torch.tensor(np.where(mask, space.history_step[safe], 0.0), dtype=torch.float32),
        hist_label=torch.tensor(np.where(mask, space.history_label[safe], 1)),
        hist_review=torch.tensor(space.history_review[safe] * mask[:, :, None]),
        hist_mask=torch.tensor(mask),
    )


def encode_labels(frame: pd.DataFrame) -> torch.Tensor:
    """(N,) long: small=0, fit=1, large=2."""
    labels = frame["fit"].map(FIT_INDEX)
    if labels.isna().any():
        bad = frame.loc[labels.isna(), "fit"].iloc[0]
        raise ValueError(f"fit label {bad!r} is not one of {FIT_LABELS}")
    return torch.tensor(labels.to_numpy(dtype=np.int64))
