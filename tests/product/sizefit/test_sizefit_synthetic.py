import numpy as np
import pandas as pd

from product.sizefit.records import COLUMNS
from product.sizefit.synthetic import generate_fit_data


def test_same_seed_same_data_and_canonical_columns():
    a, b = generate_fit_data(300, 40, seed=3), generate_fit_data(300, 40, seed=3)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert list(a.frame.columns) == list(COLUMNS)
    assert not generate_fit_data(300, 40, seed=4).frame.equals(a.frame)


def test_labels_are_imbalanced_like_real_data(shop):
    shares = shop.frame["fit"].value_counts(normalize=True)
    assert 0.6 < shares["fit"] < 0.8 and shares["small"] > 0.1 and shares["large"] > 0.05


def test_bought_sizes_are_in_the_catalog_and_in_time_order(shop):
    catalog = shop.truth.catalog
    assert all(
        size in catalog[p] for p, size in zip(shop.frame["product_id"], shop.frame["size"], strict=True)
    )
    assert shop.frame["review_date"].is_monotonic_increasing


def test_true_outcome_follows_the_planted_score(shop):
    score, true_fit = shop.truth.true_score, shop.truth.true_fit
    assert (score[true_fit == "small"] < 0).all() and (score[true_fit == "large"] > 0).all()
    # Reported labels agree with the truth except for under-reported mild misfits and label noise.
    assert 0.75 < np.mean(shop.frame["fit"].to_numpy() == true_fit) < 0.97


def test_review_wording_follows_the_true_outcome(shop):
    text = (shop.frame["review_text"] + " " + shop.frame["review_summary"]).str.lower()
    says_small = text.str.contains("tight|snug|small|size up|tiny").to_numpy()
    says_large = text.str.contains("loose|big|large|roomy|baggy|huge|size down").to_numpy()
    true_fit = shop.truth.true_fit
    assert says_small[true_fit == "small"].mean() > 3 * says_small[true_fit == "large"].mean()
    assert says_large[true_fit == "large"].mean() > 3 * says_large[true_fit == "small"].mean()
    # ... and against the reported label too, where a mild misfit was reported as "fit".
    underreported = (shop.frame["fit"].to_numpy() == "fit") & (true_fit == "small")
    assert says_small[underreported].mean() > says_small[(true_fit == "fit")].mean()


def test_best_size_minimises_the_true_misfit(shop):
    row = shop.frame.iloc[0]
    best = shop.best_size(row["customer_id"], row["product_id"])
    assert best in shop.truth.catalog[row["product_id"]]
