import os

import numpy as np
import pytest

from product.sizefit.evaluate import (
    customer_mode_size,
    evaluate_recommender,
    fit_metrics,
    product_mode_fit_size,
    product_rate_baseline,
)
from product.sizefit.recommend import Customer, Product, SizeRecommendation, SizeRecommender


def test_beats_the_baselines_on_planted_data(trained, shop, shop_split):
    with_reviews, without = trained
    train, test = shop_split
    catalog = shop.truth.catalog
    fitted = test.loc[test["fit"] == "fit"]
    bought = fitted["size"].to_numpy()
    rates = fit_metrics(test["fit"], *product_rate_baseline(train, test))
    for model in (with_reviews, without):
        metrics = evaluate_recommender(model, test, catalog)
        assert metrics["auc"] > rates["auc"] + 0.1 and metrics["macro_f1"] > rates["macro_f1"] + 0.1
        assert metrics["size_accuracy"] > np.mean(customer_mode_size(train, fitted, catalog) == bought)
        assert metrics["size_accuracy"] > np.mean(product_mode_fit_size(train, fitted, catalog) == bought)
    assert with_reviews.uses_reviews and not without.uses_reviews


def test_probabilities_and_classes(trained, shop_split):
    model, _ = trained
    _, test = shop_split
    proba = model.predict_proba(test)
    assert proba.shape == (len(test), 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(model.predict(test)) <= {"small", "fit", "large"}
    # Calibrated: mean probabilities near the label shares.
    shares = test["fit"].value_counts(normalize=True).reindex(["small", "fit", "large"]).to_numpy()
    assert np.abs(proba.mean(0) - shares).max() < 0.06


def test_recommend_falls_back_from_history_to_measurements_to_population(trained, shop, shop_split):
    model, _ = trained
    train, _ = shop_split
    customer, product = train[["customer_id", "product_id"]].iloc[-1]
    sizes = shop.truth.catalog[product]
    known = model.recommend(customer, product, sizes)
    assert isinstance(known, SizeRecommendation) and known.basis == "history"
    assert known.recommended_size in sizes and [o.size for o in known.options] == sizes
    best = max(known.options, key=lambda o: o.p_fit)
    assert best.size == known.recommended_size
    assert all(abs(o.p_small + o.p_fit + o.p_large - 1) < 1e-5 for o in known.options)
    # Larger sizes are ever less likely to be small.
    p_small = [o.p_small for o in known.options]
    assert all(a >= b for a, b in zip(p_small, p_small[1:], strict=False))

    measured = model.recommend(Customer(bust_in=40.0, waist_in=33.0, hips_in=43.0), product, sizes)
    small = model.recommend(Customer(bust_in=32.0, waist_in=25.0, hips_in=35.0), product, sizes)
    assert measured.basis == small.basis == "measurements"
    assert measured.recommended_size > small.recommended_size  # bigger body, bigger size

    nobody = model.recommend(Customer(), Product("never-seen", category="dress"), [0.0, 4.0, 8.0, 12.0, 16.0])
    assert nobody.basis == "population" and nobody.recommended_size in (4.0, 8.0, 12.0)
    with pytest.raises(ValueError, match="sizes"):
        model.recommend(customer, product, [])


def test_save_and_load_round_trip(trained, shop_split, tmp_path):
    model, _ = trained
    _, test = shop_split
    path = model.save(tmp_path / "nested" / "sizefit.pt")
    assert os.listdir(path.parent) == ["sizefit.pt"]  # no temporary file left behind
    loaded = SizeRecommender.load(path)
    np.testing.assert_allclose(
        loaded.predict_proba(test.iloc[:50]), model.predict_proba(test.iloc[:50]), atol=1e-6
    )
    customer, product = test[["customer_id", "product_id"]].iloc[0]
    assert loaded.recommend(customer, product, [4, 6, 8]) == model.recommend(customer, product, [4, 6, 8])


def test_failed_save_keeps_the_old_file(trained, tmp_path, monkeypatch):
    model, _ = trained
    path = model.save(tmp_path / "sizefit.pt")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("product.sizefit.recommend.torch.save", broken)
    with pytest.raises(OSError):
        model.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["sizefit.pt"]


def test_load_refuses_other_files(tmp_path):
    import torch

    torch.save({"format": 99}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="format"):
        SizeRecommender.load(tmp_path / "x.pt")
