"""Small seeded shops and a cheap stand-in for the sentence encoder, for the size & fit tests."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pandas as pd
import pytest

from product.sizefit import reviews
from product.sizefit.split import split_by_customer_time
from product.sizefit.synthetic import SyntheticFitData, generate_fit_data
from product.sizefit.train import SizeFitConfig


def hashed_encoder(texts: list[str], batch_size: int = 128, **_) -> np.ndarray:
    """Bag-of-words unit vectors from hashed tokens (384-d, like MiniLM): deterministic, no model."""
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        for token in re.findall(r"[a-z']+", text.lower()):
            vectors[row, zlib.crc32(token.encode()) % 384] += 1.0
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


@pytest.fixture
def fake_encoder(monkeypatch) -> None:
    """Route review embedding through ``hashed_encoder`` instead of all-MiniLM-L6-v2."""
    monkeypatch.setattr(reviews, "encode_texts", hashed_encoder)


@pytest.fixture(scope="session")
def shop() -> SyntheticFitData:
    return generate_fit_data(num_customers=1500, num_products=120, seed=7)


@pytest.fixture(scope="session")
def shop_split(shop) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = split_by_customer_time(shop.frame, 0.2, seed=7)
    return train.reset_index(drop=True), test


@pytest.fixture(scope="session")
def fast_config() -> SizeFitConfig:
    return SizeFitConfig(epochs=12, seed=0)


@pytest.fixture(scope="session")
def trained(shop_split, fast_config):
    """(with reviews, without reviews) recommenders on the shop, reviews embedded by hashing."""
    from product.sizefit.train import train_size_fit

    train, _ = shop_split
    texts = train["review_text"].tolist()
    summaries = train["review_summary"].tolist()
    original = reviews.encode_texts
    reviews.encode_texts = hashed_encoder
    try:
        vectors, has_review = reviews.embed_reviews(texts, summaries)
    finally:
        reviews.encode_texts = original
    with_reviews, _ = train_size_fit(train, fast_config, vectors, has_review)
    without, _ = train_size_fit(train, SizeFitConfig(**{**fast_config.__dict__, "use_reviews": False}))
    return with_reviews, without
