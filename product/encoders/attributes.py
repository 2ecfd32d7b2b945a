"""Structured product attributes (category, brand, price bucket, specs) -> hashed sparse features.

A hashed bag of ``field=value`` tokens (scikit-learn's ``FeatureHasher``) needs no vocabulary, so
a new brand or category gets a vector without refitting; the model's first layer learns what the
tokens mean. Rows are L2-normalised; an item with no attribute at all gets zeros and a False mask.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.feature_extraction import FeatureHasher

DEFAULT_DIM = 256


def price_bucket(price: float) -> int:
    """Log-scale price bucket (base 2): 0 for under 1, then 1, 2-3, 4-7, ..."""
    return 0 if price < 1 else int(math.floor(math.log2(price))) + 1


def attribute_tokens(
    categories: Sequence[str] = (),
    brand: str | None = None,
    price: float | None = None,
    specs: Mapping[str, str] | None = None,
) -> list[str]:
    """The ``field=value`` tokens of one item (values lower-cased and stripped)."""
    tokens = [f"category={c.strip().lower()}" for c in categories if c and c.strip()]
    # The category path also adds its prefixes, so sibling leaves share the parent's tokens.
    tokens += [f"category_depth{d}={c.strip().lower()}" for d, c in enumerate(categories) if c.strip()]
    if brand and brand.strip():
        tokens.append(f"brand={brand.strip().lower()}")
    if price is not None and not math.isnan(price):
        tokens.append(f"price_bucket={price_bucket(price)}")
    for key, value in (specs or {}).items():
        if str(value).strip():
            tokens.append(f"spec:{key.strip().lower()}={str(value).strip().lower()}")
    return tokens


def encode_attributes(tokens: list[list[str]], dim: int = DEFAULT_DIM) -> tuple[np.ndarray, np.ndarray]:
    """Hash each item's tokens into ``dim`` signed buckets.

    Returns ``(vectors, mask)``: float32 (N, dim) unit rows (zeros where an item has no token) and
    bool (N,) True where it has at least one.
    """
    mask = np.array([len(item) > 0 for item in tokens], dtype=bool)
    if not tokens:
        return np.zeros((0, dim), dtype=np.float32), mask
    hashed = FeatureHasher(n_features=dim, input_type="string").transform(tokens)
    vectors = hashed.toarray().astype(np.float32)  # (N, dim)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0), mask
