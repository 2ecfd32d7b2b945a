"""Demo step "sizefit": predict small / fit / large and recommend sizes on generated purchases.

Generates a shop whose customers have planted true sizes and whose products run small or large
by brand and category, with reviews that describe how each purchase really fitted. Trains the
latent-size model with and without those reviews on each customer's earlier purchases, scores
their latest ones, and recommends sizes for a returning, a measured new and an unknown customer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from product.sizefit.evaluate import customer_mode_size, evaluate_recommender, product_mode_fit_size
from product.sizefit.recommend import Customer, SizeRecommender
from product.sizefit.reviews import embed_frame_reviews
from product.sizefit.split import split_by_customer_time
from product.sizefit.synthetic import generate_fit_data
from product.sizefit.train import SizeFitConfig, train_size_fit


def run(out: Path, console: Console) -> None:
    torch.set_num_threads(1)  # a tiny net: more threads only add synchronisation (see commands/sizefit.py)
    out.mkdir(parents=True, exist_ok=True)
    data = generate_fit_data(num_customers=2500, num_products=250, seed=0)
    train, test = split_by_customer_time(data.frame, test_fraction=0.2, seed=0)
    train = train.reset_index(drop=True)
    shares = train["fit"].value_counts(normalize=True)
    console.print(
        f"{len(data.frame)} purchases by {data.frame['customer_id'].nunique()} customers of "
        f"{len(data.truth.catalog)} products; train {len(train)}, test {len(test)} (each customer's latest); "
        f"labels small {shares['small']:.2f} / fit {shares['fit']:.2f} / large {shares['large']:.2f}"
    )
    vectors, has_review = embed_frame_reviews(train)

    table = Table(
        "model", "macro-F1", "F1 small", "F1 fit", "F1 large", "AUC", "size acc.", title="Size & fit (test)"
    )
    for reviews in (False, True):
        recommender, _ = train_size_fit(train, SizeFitConfig(use_reviews=reviews), vectors, has_review)
        m = evaluate_recommender(recommender, test, data.truth.catalog)
        name = f"latent size {'+' if reviews else '-'} reviews"
        table.add_row(
            name,
            *(f"{m[k]:.3f}" for k in ("macro_f1", "f1_small", "f1_fit", "f1_large", "auc", "size_accuracy")),
        )
    fitted = test.loc[test["fit"] == "fit"]
    bought = fitted["size"].to_numpy()
    for name, sizes in (
        ("customer's usual size", customer_mode_size(train, fitted, data.truth.catalog)),
        ("product's usual fitting size", product_mode_fit_size(train, fitted, data.truth.catalog)),
    ):
        table.add_row(name, "", "", "", "", "", f"{np.mean(sizes == bought):.3f}")
    console.print(table)
    console.print(
        "[dim]size acc.: share of test purchases that fitted whose size is the one recommended[/dim]"
    )

    path = recommender.save(out / "sizefit.pt")
    loaded = SizeRecommender.load(path)
    returning_rows = test.loc[test["customer_id"].isin(set(train["customer_id"]))]
    returning, product = returning_rows[["customer_id", "product_id"]].iloc[0]
    sizes = data.truth.catalog[product]
    people = (
        (f"returning {returning}", Customer(customer_id=returning)),
        ("new: 5' 6\", 150 lbs, bust 36", Customer(height_cm=167.6, weight_kg=68.0, bust_in=36.0)),
        ("unknown customer", Customer()),
    )
    recs = Table(
        "who",
        "basis",
        "size",
        "P(small / fit / large)",
        title=f"Product {product}, sizes {sizes[0]:g}-{sizes[-1]:g}",
    )
    for who, customer in people:
        result = loaded.recommend(customer, product, sizes)
        chosen = next(o for o in result.options if o.size == result.recommended_size)
        recs.add_row(
            who,
            result.basis,
            f"{result.recommended_size:g}",
            f"{chosen.p_small:.2f} / {chosen.p_fit:.2f} / {chosen.p_large:.2f}",
        )
    console.print(recs)
    best = data.best_size(returning, product)
    console.print(
        f"[dim]planted truth: {returning}'s best size of {product} is {best:g}; model saved to {path}[/dim]"
    )
