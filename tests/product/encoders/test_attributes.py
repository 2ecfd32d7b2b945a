import numpy as np

from product.encoders.attributes import attribute_tokens, encode_attributes, price_bucket


def test_price_bucket_is_log_scale():
    assert [price_bucket(p) for p in (0.5, 1, 3, 4, 100)] == [0, 1, 2, 3, 7]


def test_tokens_and_hashing():
    tokens = [
        attribute_tokens(["Lab", "Glassware"], "Pyrex", 12.0, {"Volume": "250 ml"}),
        attribute_tokens(["Lab", "Glassware"], "Pyrex", 13.0, {"Volume": "250 ml"}),
        attribute_tokens(["Tools"], "Stanley", None, {}),
        attribute_tokens([], None, None, {}),
    ]
    assert "brand=pyrex" in tokens[0] and "spec:volume=250 ml" in tokens[0]
    vectors, mask = encode_attributes(tokens, dim=64)
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32
    assert mask.tolist() == [True, True, True, False]
    np.testing.assert_allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, rtol=1e-5)
    assert not vectors[3].any()
    # Same category, brand and price bucket -> near-identical; different everything -> far.
    assert vectors[0] @ vectors[1] > 0.99
    assert abs(vectors[0] @ vectors[2]) < 0.5
