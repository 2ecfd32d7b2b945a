"""The real 100-row ModCloth and RentTheRunway heads through the whole pipeline (format and
robustness, not quality: 100 records teach nothing)."""

import numpy as np
import pytest

from product.sizefit.evaluate import catalog_from_records, evaluate_recommender
from product.sizefit.recommend import Customer, SizeRecommender
from product.sizefit.records import read_fit_file
from product.sizefit.split import split_by_customer_time
from product.sizefit.train import SizeFitConfig, train_size_fit


@pytest.mark.data
@pytest.mark.parametrize("name", ["modcloth", "renttherunway"])
def test_real_sample_pipeline(shared_data, name, tmp_path):
    records = read_fit_file(shared_data / "clothing-fit" / f"{name}_final_data_mini.json").frame
    train, test = split_by_customer_time(records, 0.2, seed=0)
    model, log = train_size_fit(train, SizeFitConfig(epochs=3))  # real MiniLM on the reviews
    assert model.uses_reviews and np.isfinite(log.valid_loss).all()
    metrics = evaluate_recommender(model, test, catalog_from_records(records))
    assert 0 <= metrics["macro_f1"] <= 1 and 0 <= metrics["size_accuracy"] <= 1

    loaded = SizeRecommender.load(model.save(tmp_path / f"{name}.pt"))
    customer, product = train[["customer_id", "product_id"]].iloc[0]
    sizes = sorted(records.loc[records["product_id"] == product, "size"].unique())
    for who, basis in (
        (customer, "history"),
        (Customer(height_cm=165.0, band_in=34.0), "measurements"),
        (Customer(), "population"),
    ):
        result = loaded.recommend(who, product, sizes)
        assert result.basis == basis and result.recommended_size in sizes
        assert all(abs(o.p_small + o.p_fit + o.p_large - 1) < 1e-5 for o in result.options)
