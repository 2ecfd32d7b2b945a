import numpy as np
import pytest

from product.encoders.cache import VectorCache, content_key


def test_content_key_separates_parts():
    assert content_key("ab", "c") != content_key("a", "bc")
    assert content_key("x") == content_key(b"x")


def test_cache_round_trip_across_instances(tmp_path):
    first = VectorCache(tmp_path / "enc", dim=3)
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    first.put_many(["k1", "k2"], vectors)
    second = VectorCache(tmp_path / "enc", dim=3)  # a later run reads the chunks back
    found = second.get_many(["k2", "missing", "k1"])
    assert set(found) == {0, 2}
    np.testing.assert_array_equal(found[0], vectors[1])
    np.testing.assert_array_equal(found[2], vectors[0])
    assert len(second) == 2
    assert not list((tmp_path / "enc").glob(".tmp-*"))  # no temporary left behind


def test_cache_rejects_wrong_shape(tmp_path):
    cache = VectorCache(tmp_path, dim=4)
    with pytest.raises(ValueError, match="does not match"):
        cache.put_many(["a"], np.zeros((1, 3)))
