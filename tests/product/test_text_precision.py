import numpy as np
import pytest

from product import text_encoder
from product.encoders.cache import VectorCache
from product.encoders.text import encode_product_texts
from product.text_encoder import encode_texts, resolve_precision

TITLES = ["stainless steel water bottle 750 ml", "usb-c charging cable 2 m", "kids rain boots size 30"]


def test_resolve_precision(monkeypatch):
    monkeypatch.setattr(text_encoder, "bf16_is_fast", lambda: True)
    assert resolve_precision("auto") == "bf16"
    assert resolve_precision("auto", device="cuda") == "fp32"
    monkeypatch.setattr(text_encoder, "bf16_is_fast", lambda: False)
    assert resolve_precision("auto") == "fp32"
    assert resolve_precision("bf16") == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("int8")


def test_bf16_vectors_agree_with_fp32():
    fp32 = encode_texts(TITLES, precision="fp32")
    bf16 = encode_texts(TITLES, precision="bf16")
    assert bf16.dtype == np.float32 and bf16.shape == (3, 384)
    cosine = (fp32 * bf16).sum(1)
    assert cosine.min() > 0.999
    # and the texts stay distinguishable: each bf16 vector is nearest to its own fp32 vector
    assert ((bf16 @ fp32.T).argmax(1) == np.arange(3)).all()


def test_cache_keeps_precisions_apart(tmp_path):
    cache = VectorCache(tmp_path / "text", dim=384)
    encode_product_texts(TITLES, cache, precision="fp32")
    assert len(cache) == 3
    encode_product_texts(TITLES, cache, precision="fp32")
    assert len(cache) == 3  # reused
    encode_product_texts(TITLES, cache, precision="bf16")
    assert len(cache) == 6  # bf16 vectors stored under their own keys
