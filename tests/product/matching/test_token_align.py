import zlib

import numpy as np
import pandas as pd
import pytest
from matching_stubs import fake_embeddings

from product.matching.features import encode_catalogs, field_texts, pair_features
from product.matching.token_align import FEATURES, alignment_features, encode_tokens, token_idf, token_matrix

DIM = 16


def _word_vector(word: str) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(word.encode())).normal(size=DIM).astype(np.float32)


def _matrix(titles: list[str], max_tokens: int = 32):
    """Stand-in token vectors: one seeded random vector per word (same word, same vector)."""
    words = [title.split() for title in titles]
    vectors = [np.array([_word_vector(w) for w in ws]).reshape(len(ws), DIM) for ws in words]
    ids = [np.array([zlib.crc32(w.encode()) % 10_000 for w in ws], dtype=np.int64) for ws in words]
    return token_matrix(vectors, ids, max_tokens)


def test_token_matrix_pads_truncates_and_normalises():
    matrix = _matrix(["a b c", "d", ""], max_tokens=2)
    assert matrix.index.shape == (3, 2) and matrix.ids.shape == (3, 2)
    assert matrix.mask.tolist() == [[True, True], [True, False], [False, False]]
    norms = np.linalg.norm(matrix.vectors.astype(np.float32), axis=1)
    np.testing.assert_allclose(norms[:-1], 1.0, atol=1e-3)  # float16 storage
    assert norms[-1] == 0.0 and (matrix.index[~matrix.mask] == len(matrix.vectors) - 1).all()


def test_identical_titles_align_fully_and_a_foreign_word_is_unmatched():
    left = _matrix(["sony bravia tv", "sony bravia tv"])
    # orthogonal word: build a right title whose extra token is orthogonal to every left token
    base = np.array([_word_vector(w) for w in "sony bravia tv".split()])
    q, _ = np.linalg.qr(np.concatenate([base, np.eye(DIM)[:1]]).T)
    extra = q[:, 3].astype(np.float32)  # orthogonal to the three words
    vectors = [base, np.concatenate([base, extra[None]])]
    ids = [np.array([1, 2, 3]), np.array([1, 2, 3, 4])]
    right = token_matrix(vectors, ids)
    out = alignment_features(left, right, np.array([0, 1]), np.array([0, 1]))
    assert set(out) == set(FEATURES)
    np.testing.assert_allclose(out["token_align_min"][0], 1.0, atol=2e-3)
    assert out["token_unmatched_max"][0] == 0.0
    # left -> right: every left token found (1.0); right -> left: 3 of 4 tokens at 1.0, one near 0
    np.testing.assert_allclose(out["token_align_max"][1], 1.0, atol=2e-3)
    np.testing.assert_allclose(out["token_align_min"][1], 0.75, atol=2e-3)
    np.testing.assert_allclose(out["token_unmatched_max"][1], 0.25)
    np.testing.assert_allclose(out["token_worst_min"][1], 0.0, atol=2e-3)
    assert out["token_align_f"][1] == pytest.approx(2 * 0.75 / 1.75, abs=3e-3)


def test_batches_give_the_same_features_and_empty_titles_are_nan():
    titles = ["red apple ipod nano 8gb", "ipod nano", "", "green kettle 1.5 l", "apple ipod"]
    left, right = _matrix(titles), _matrix(titles[::-1])
    rng = np.random.default_rng(0)
    li, ri = rng.integers(0, 5, 40), rng.integers(0, 5, 40)
    one = alignment_features(left, right, li, ri, batch_size=3)
    all_at_once = alignment_features(left, right, li, ri, batch_size=1000)
    for name in FEATURES:
        np.testing.assert_allclose(one[name], all_at_once[name], rtol=1e-5, err_msg=name)
    empty = (li == 2) | (ri == 2)  # row 2 of both matrices is the empty title
    assert (
        np.isnan(one["token_align_min"][empty]).all() and not np.isnan(one["token_align_min"][~empty]).any()
    )
    assert alignment_features(left, right, np.zeros(0), np.zeros(0))["token_align_f"].shape == (0,)


def test_idf_is_lower_for_a_word_in_every_title():
    left, right = _matrix(["the a", "the b"]), _matrix(["the c"])
    idf = token_idf(left, right)
    the, rare = zlib.crc32(b"the") % 10_000, zlib.crc32(b"c") % 10_000
    assert idf[the] == pytest.approx(0.0) and idf[rare] == pytest.approx(np.log(4 / 2))


class _FakeModel:
    """Per-word vectors in the shape SentenceTransformer.encode(output_value=None) returns."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts, batch_size, output_value):
        import torch

        self.calls += 1
        out = []
        for text in texts:
            words = ["[CLS]", *text.split(), "[SEP]"]
            out.append(
                {
                    "token_embeddings": torch.tensor(np.array([_word_vector(w) for w in words])),
                    "input_ids": torch.tensor([zlib.crc32(w.encode()) % 10_000 for w in words]),
                    "attention_mask": torch.ones(len(words), dtype=torch.long),
                }
            )
        return out


def test_encode_tokens_drops_special_tokens_and_caches(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import product.text_encoder

    fake = _FakeModel()
    monkeypatch.setattr(product.text_encoder, "load_text_model", lambda device="cpu": fake)
    texts = ["apple ipod nano", "", "kettle"]
    vectors, ids = encode_tokens(texts, tmp_path, precision="fp32")
    assert [len(v) for v in vectors] == [3, 0, 1] and [len(i) for i in ids] == [3, 0, 1]
    np.testing.assert_allclose(vectors[2][0], _word_vector("kettle"), atol=1e-2)
    again, again_ids = encode_tokens(texts, tmp_path, precision="fp32")
    assert fake.calls == 1  # the second call read the cache file
    for a, b in zip(vectors + ids, again + again_ids, strict=True):
        np.testing.assert_array_equal(a, b)


def test_pair_features_add_token_columns_only_when_tokens_are_given(shops):
    tokens = tuple(_matrix(field_texts(side, "title")) for side in (shops.left, shops.right))
    with_tokens = encode_catalogs(shops.left, shops.right, fake_embeddings(shops), k=5, tokens=tokens)
    plain = encode_catalogs(shops.left, shops.right, fake_embeddings(shops), k=5)
    ids_left, ids_right = pd.Index(shops.left["id"]), pd.Index(shops.right["id"])
    li = ids_left.get_indexer(shops.matches["left_id"])
    ri = ids_right.get_indexer(shops.matches["right_id"])
    table = pair_features(with_tokens, li, ri)
    assert set(FEATURES) <= set(table.columns) and not set(FEATURES) & set(
        pair_features(plain, li, ri).columns
    )
    shuffled = pair_features(with_tokens, li, np.roll(ri, 7))
    assert table["token_align_f"].mean() > shuffled["token_align_f"].mean() + 0.1
