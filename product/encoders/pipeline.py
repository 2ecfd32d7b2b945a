"""Turn a catalog into per-modality item features: text, image and attribute encoders together."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from product.encoders.attributes import DEFAULT_DIM, attribute_tokens, encode_attributes
from product.encoders.catalog import Product
from product.encoders.features import ItemFeatures
from product.encoders.text import DEFAULT_BATCH_SIZE, encode_product_texts, text_cache

MODALITIES = ("text", "image", "attributes")


def encode_catalog(
    products: list[Product],
    modalities: tuple[str, ...] = MODALITIES,
    cache_root: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    attribute_dim: int = DEFAULT_DIM,
    progress: bool = False,
    text_precision: str = "auto",
) -> ItemFeatures:
    """Encode every product with each requested modality; ``cache_root=None`` disables the cache.

    Text is title + description (all-MiniLM-L6-v2, 384-d); images are EfficientNet-Lite0 pooled
    features (1280-d); attributes are hashed ``field=value`` tokens (``attribute_dim``-d).
    ``text_precision``: ``auto`` (bfloat16 where the CPU has bfloat16 units), ``fp32`` or ``bf16``.
    """
    unknown = set(modalities) - set(MODALITIES)
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}; choose from {list(MODALITIES)}")
    vectors, masks, reasons = {}, {}, {}
    if "text" in modalities:
        cache = text_cache(cache_root) if cache_root is not None else None
        texts = [product.text() for product in products]
        vectors["text"], masks["text"] = encode_product_texts(
            texts, cache, batch_size, progress, precision=text_precision
        )
        reasons["text"] = {"no title or description": int((~masks["text"]).sum())}
    if "image" in modalities:
        from product.encoders.image import encode_images, image_cache  # torch vision weights load lazily

        cache = image_cache(cache_root) if cache_root is not None else None
        paths = [product.image for product in products]
        vectors["image"], masks["image"], missing = encode_images(
            paths, cache, progress=progress
        )
        reasons["image"] = dict(Counter(missing))
    if "attributes" in modalities:
        tokens = [
            attribute_tokens(product.categories, product.brand, product.price, product.specs)
            for product in products
        ]
        vectors["attributes"], masks["attributes"] = encode_attributes(tokens, attribute_dim)
        reasons["attributes"] = {"no category, brand, price or specs": int((~masks["attributes"]).sum())}
    return ItemFeatures([product.item_id for product in products], vectors, masks, reasons)
