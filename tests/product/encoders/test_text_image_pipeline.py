import numpy as np
import pytest

from product.encoders.cache import VectorCache
from product.encoders.catalog import Product
from product.encoders.pipeline import encode_catalog
from product.encoders.text import encode_product_texts


def test_text_mask_and_cache(tmp_path, monkeypatch):
    cache = VectorCache(tmp_path / "text", dim=384)
    texts = ["red glue 8 oz", None, "  ", "glass beaker 250 ml"]
    vectors, mask = encode_product_texts(texts, cache)
    assert mask.tolist() == [True, False, False, True]
    assert not vectors[1:3].any()
    np.testing.assert_allclose(np.linalg.norm(vectors[[0, 3]], axis=1), 1.0, rtol=1e-5)
    assert len(cache) == 2

    # A re-run must not call the model at all.
    import product.encoders.text as text_module

    def fail(*args, **kwargs):
        raise AssertionError("cache miss")

    monkeypatch.setattr(text_module, "encode_texts", fail)
    again, _ = encode_product_texts(texts, VectorCache(tmp_path / "text", dim=384))
    np.testing.assert_array_equal(again, vectors)


def test_image_encoder_masks_missing_and_unreadable(tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    from PIL import Image

    from product.encoders.image import DIM, encode_images

    rng = np.random.default_rng(0)
    good = tmp_path / "good.png"
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(good)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"not an image")
    cache = VectorCache(tmp_path / "img", dim=DIM)
    paths = [good, None, tmp_path / "absent.jpg", corrupt]
    vectors, mask, missing = encode_images(paths, cache)
    assert vectors.shape == (4, DIM)
    assert mask.tolist() == [True, False, False, False]
    assert missing == {"no path": 1, "not found": 1, "unreadable": 1}
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, rel=1e-5)
    assert len(cache) == 1


def test_encode_catalog_reports_missing(tmp_path):
    products = [
        Product("a", title="Gorilla glue", categories=["Adhesives"], brand="Gorilla", price=7.0),
        Product("b", description="A 250 ml borosilicate beaker"),
        Product("c"),
    ]
    features = encode_catalog(products, modalities=("text", "attributes"), cache_root=tmp_path)
    assert features.vectors["text"].shape == (3, 384)
    report = features.report()
    assert report["text"]["missing"] == 1
    assert report["attributes"]["missing"] == 2
    with pytest.raises(ValueError, match="unknown modalities"):
        encode_catalog(products, modalities=("audio",))
