import numpy as np
import pandas as pd
import pytest
from matching_stubs import fake_embeddings, hashed_embeddings

from product.matching.features import encode_catalogs, pair_features
from product.matching.listing import listings_from_frame


@pytest.fixture(scope="module")
def encoded(shops):
    return encode_catalogs(shops.left, shops.right, fake_embeddings(shops), k=5)


def test_feature_table_shape_and_ranges(encoded):
    n_left, n_right = len(encoded.left), len(encoded.right)
    rng = np.random.default_rng(0)
    li, ri = rng.integers(0, n_left, 50), rng.integers(0, n_right, 50)
    table = pair_features(encoded, li, ri)
    assert len(table) == 50 and table.dtypes.eq(np.float32).all()
    assert np.isfinite(table.fillna(0).to_numpy()).all()
    for column in ("title_char_cos", "title_jaccard", "title_token_set_ratio", "price_ratio"):
        values = table[column].dropna()
        assert values.between(-1e-5, 1 + 1e-5).all(), column
    assert table["title_char_rank_min"].between(1, 6).all()


def test_true_matches_look_closer_than_random_pairs(encoded, shops):
    ids_left = pd.Index(encoded.left["id"])
    ids_right = pd.Index(encoded.right["id"])
    li = ids_left.get_indexer(shops.matches["left_id"])
    ri = ids_right.get_indexer(shops.matches["right_id"])
    matched = pair_features(encoded, li, ri)
    shuffled = pair_features(encoded, li, np.roll(ri, 7))
    assert matched["title_char_cos"].mean() > shuffled["title_char_cos"].mean() + 0.2
    assert matched["title_char_rank_min"].mean() < shuffled["title_char_rank_min"].mean()


def test_close_non_match_raises_conflict_flags():
    left = listings_from_frame(
        pd.DataFrame(
            {
                "id": ["a", "b"],
                "title": ["Sonix Galaxy 5 SO123A 64GB black smartphone", "Kelvar Bass headphones KE555A"],
                "price": [300.0, 80.0],
            }
        )
    )
    right = listings_from_frame(
        pd.DataFrame(
            {
                "id": ["x", "y", "z"],
                "title": [
                    "sonix galaxy 5 so-123a 64gb black",
                    "sonix galaxy 5 SO123B 128GB white",
                    "kelvar quiet headphones",
                ],
                "brand": ["sonix", "sonix", ""],
                "price": [310.0, 390.0, None],
            }
        )
    )
    embeddings = {"title": (hashed_embeddings(left), hashed_embeddings(right))}
    enc = encode_catalogs(left, right, embeddings, k=2)
    table = pair_features(enc, np.array([0, 0, 1]), np.array([0, 1, 2]))
    same, sibling, unrelated = table.iloc[0], table.iloc[1], table.iloc[2]
    assert same["id_exact"] == 1 and same["storage_conflict"] == 0 and same["colour_conflict"] == 0
    assert sibling["id_exact"] == 0 and sibling["id_conflict"] == 1
    assert sibling["storage_conflict"] == 1 and sibling["colour_conflict"] == 1
    assert sibling["id_similarity"] > 0.8  # close, but not the same code
    assert same["brand_in_other_text"] == 1
    assert np.isnan(unrelated["price_ratio"]) and np.isnan(unrelated["storage_conflict"])


def test_title_is_required_for_blocking(shops):
    vectors = fake_embeddings(shops)["title"]
    with pytest.raises(ValueError, match="title"):
        encode_catalogs(shops.left, shops.right, {"description": vectors})


def test_image_cosine_when_vectors_are_given(shops):
    rng = np.random.default_rng(0)
    left_images = rng.random((len(shops.left), 4)).astype(np.float32)
    right_images = np.full((len(shops.right), 4), np.nan, dtype=np.float32)
    right_images[0] = 1.0
    enc = encode_catalogs(
        shops.left, shops.right, k=3, embeddings=fake_embeddings(shops), images=(left_images, right_images)
    )
    table = pair_features(enc, np.array([0, 0]), np.array([0, 1]))
    assert np.isfinite(table["image_cos"].iat[0]) and np.isnan(table["image_cos"].iat[1])


def test_single_listing_catalog_has_finite_margins():
    left = listings_from_frame(pd.DataFrame({"title": ["Sonix SO123A 64GB", "Kelvar KE555A"]}))
    right = listings_from_frame(pd.DataFrame({"title": ["sonix so-123a 64gb"]}))
    embeddings = {"title": (hashed_embeddings(left), hashed_embeddings(right))}
    enc = encode_catalogs(left, right, k=3, embeddings=embeddings)
    table = pair_features(enc, np.array([0, 1]), np.array([0, 0]))
    margins = table[[c for c in table.columns if "margin" in c]].to_numpy()
    assert np.isfinite(margins).all()
    with pytest.raises(ValueError, match="at least 2"):
        encode_catalogs(left, right, k=1, embeddings=embeddings)
