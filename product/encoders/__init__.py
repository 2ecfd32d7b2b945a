"""Product encoders: catalog -> per-modality item vectors with masks and a content-hash cache."""

from product.encoders.attributes import attribute_tokens, encode_attributes
from product.encoders.cache import VectorCache, content_key
from product.encoders.catalog import Product, read_catalog, read_unisrec_text
from product.encoders.features import ItemFeatures, load_features, load_npy, save_features
from product.encoders.pipeline import MODALITIES, encode_catalog
from product.encoders.text import encode_product_texts, text_cache

__all__ = [
    "MODALITIES",
    "ItemFeatures",
    "Product",
    "VectorCache",
    "attribute_tokens",
    "content_key",
    "encode_attributes",
    "encode_catalog",
    "encode_product_texts",
    "load_features",
    "load_npy",
    "read_catalog",
    "read_unisrec_text",
    "save_features",
    "text_cache",
]
