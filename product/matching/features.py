"""Pair features for product matching: text similarities, identifiers, units, price, context.

``encode_catalogs`` does the per-listing work once for two catalogs (parsing, TF-IDF, MiniLM
embeddings, kNN neighbourhoods); ``pair_features`` then turns any list of (left, right) row pairs
into one row of features each. Missing evidence is NaN (LightGBM routes it on its own), and every
comparison that can rule a pair out has an explicit conflict flag, because ProMap's close
non-matches differ from the match in exactly one such token (Macková & Pilát, 2023, Sec. 3).

Feature groups:

* text: char n-gram and word TF-IDF cosines, token Jaccard / containment, fuzzy ratios (rapidfuzz),
  MiniLM cosines of the embedded fields, title-vs-full-text cosines, IDF mass of unmatched words;
* identifiers: shared model/part numbers, one side's code inside the other's text, the closest
  pair of codes (edit similarity), GTIN agreement;
* units and numbers: per family (storage, length, weight, volume, power, ...) a conflict flag,
  colour conflict, agreement of numbers in titles and of specification values;
* brand, category, price ratio, image-embedding cosine (when image vectors are given);
* context: rank of each listing among the other's nearest neighbours and its margin over the best
  competitor, on both blocking paths (a listing's best match is usually unique);
* token alignment (optional, when ``encode_catalogs`` gets title token vectors): BERTScore-style
  soft alignment of the two titles' MiniLM token vectors (``product.matching.token_align``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import TfidfVectorizer

from product.matching.blocking import Neighbours, neighbours
from product.matching.extract import (
    UNIT_FAMILIES,
    Profile,
    normalize_text,
    profile,
    quantities_agree,
)
from product.matching.listing import listing_text
from product.matching.token_align import TokenMatrix, alignment_features, encode_tokens, token_matrix

EMBED_FIELDS = ("title", "description", "text")


@dataclass
class EncodedCatalogs:
    """Everything pair features need about two catalogs, computed once."""

    left: pd.DataFrame
    right: pd.DataFrame
    left_profiles: list[Profile]
    right_profiles: list[Profile]
    titles: tuple[list[str], list[str]]  # normalised titles
    tfidf: dict[str, tuple[sp.csr_matrix, sp.csr_matrix]]  # unit rows, one pair per view
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]]  # field -> (n_left, 384), (n_right, 384)
    idf: dict[str, float]  # word -> inverse document frequency over both catalogs' texts
    neighbours: dict[str, Neighbours]  # blocking path -> kNN in both directions
    images: tuple[np.ndarray, np.ndarray] | None  # unit rows; NaN rows where a listing has none
    tokens: tuple[TokenMatrix, TokenMatrix] | None = None  # title token vectors (token alignment)


def field_texts(listings: pd.DataFrame, field: str) -> list[str]:
    """The text embedded for ``field``: the title (brand-prefixed when the title lacks it), the
    description, or all text."""
    if field == "title":
        return [
            t if not b or b.lower() in t.lower() else f"{b} {t}"
            for t, b in zip(listings["title"], listings["brand"], strict=True)
        ]
    if field == "description":
        return listings["description"].tolist()
    if field == "text":
        return [listing_text(row) for _, row in listings.iterrows()]
    raise ValueError(f"unknown embedding field {field!r}; choose from {EMBED_FIELDS}")


def embed_fields(
    listings: pd.DataFrame,
    fields: tuple[str, ...],
    cache_root: Path | None = None,
    precision: str = "auto",
) -> dict[str, np.ndarray]:
    """MiniLM vectors of each field, (n, 384) unit rows; rows of empty text are zeros.

    ``cache_root`` reuses vectors across runs (``product.encoders`` content-hash cache);
    ``precision`` as in ``product.text_encoder.encode_texts``.
    """
    from product.encoders.text import encode_product_texts, text_cache

    cache = text_cache(cache_root) if cache_root is not None else None
    return {
        field: encode_product_texts(field_texts(listings, field), cache, precision=precision)[0]
        for field in fields
    }


def embed_title_tokens(
    listings: pd.DataFrame, cache_root: Path | None = None, max_tokens: int = 32, precision: str = "auto"
) -> TokenMatrix:
    """MiniLM token vectors of the titles as embedded for ``title`` (first ``max_tokens`` word
    pieces), for the token-alignment features; ``cache_root`` and ``precision`` as in
    ``embed_fields``."""
    vectors, ids = encode_tokens(field_texts(listings, "title"), cache_root, precision=precision)
    return token_matrix(vectors, ids, max_tokens)


def embed_images(listings: pd.DataFrame, cache_root: Path | None = None) -> np.ndarray:
    """EfficientNet-Lite0 vectors of the listings' local image files, (n, 1280) unit rows; NaN rows
    where the image is missing, remote or unreadable."""
    from product.encoders.image import encode_images, image_cache

    cache = image_cache(cache_root) if cache_root is not None else None
    vectors, mask, _ = encode_images(listings["image"].tolist(), cache)
    vectors[~mask] = np.nan
    return vectors


def encode_catalogs(
    left: pd.DataFrame,
    right: pd.DataFrame,
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]],
    k: int = 10,
    images: tuple[np.ndarray, np.ndarray] | None = None,
    tokens: tuple[TokenMatrix, TokenMatrix] | None = None,
) -> EncodedCatalogs:
    """Parse, vectorise and index two catalogs (listing schema) for pair features and blocking.

    Args:
        left, right: catalogs with ``LISTING_COLUMNS``.
        embeddings: ``field -> (left, right)`` unit vectors (see ``embed_fields``); "title" is
            required, as the semantic blocking path searches title embeddings.
        k: neighbours kept per listing on each blocking path.
        images: image vectors (unit rows, NaN rows where absent) for the image cosine feature.
        tokens: title token vectors of both catalogs (see ``embed_title_tokens``) for the
            token-alignment features; None leaves them out.
    """
    if "title" not in embeddings:
        raise ValueError("embeddings must include 'title': semantic blocking searches title vectors")
    if k < 2:
        raise ValueError(f"k must be at least 2 (the margin feature needs a runner-up), got {k}")
    texts = (
        [listing_text(row) for _, row in left.iterrows()],
        [listing_text(row) for _, row in right.iterrows()],
    )
    left_profiles = [_profile(row, text) for (_, row), text in zip(left.iterrows(), texts[0], strict=True)]
    right_profiles = [_profile(row, text) for (_, row), text in zip(right.iterrows(), texts[1], strict=True)]
    titles = (
        [normalize_text(t) for t in field_texts(left, "title")],
        [normalize_text(t) for t in field_texts(right, "title")],
    )

    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32)
    char.fit(titles[0] + titles[1])
    word = TfidfVectorizer(
        token_pattern=r"[^\W_]+", sublinear_tf=True, dtype=np.float32, preprocessor=normalize_text
    )
    word.fit(texts[0] + texts[1])
    tfidf = {
        "title_char": (char.transform(titles[0]), char.transform(titles[1])),
        "title_word": (word.transform(titles[0]), word.transform(titles[1])),
        "text_word": (word.transform(texts[0]), word.transform(texts[1])),
        "description_word": (
            word.transform(left["description"].tolist()),
            word.transform(right["description"].tolist()),
        ),
    }
    idf = dict(zip(word.get_feature_names_out(), word.idf_.astype(float), strict=True))
    paths = {
        "title_char": neighbours(*tfidf["title_char"], k),
        "title_emb": neighbours(*embeddings["title"], k),
    }
    return EncodedCatalogs(
        left,
        right,
        left_profiles,
        right_profiles,
        titles,
        tfidf,
        dict(embeddings),
        idf,
        paths,
        images,
        tokens,
    )


def _profile(row: pd.Series, text: str) -> Profile:
    return profile(row["title"], text, row["brand"], row["category"], row["specifications"])


def _row_dot(a: sp.csr_matrix | np.ndarray, b: sp.csr_matrix | np.ndarray) -> np.ndarray:
    if sp.issparse(a):
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", a, b)


def _context(path: Neighbours, sims: np.ndarray, li: np.ndarray, ri: np.ndarray) -> dict[str, np.ndarray]:
    """Rank of the pair in each listing's neighbour list (k + 1 when absent) and the margin of the
    pair's similarity over the best *other* neighbour (positive only for a clear best match)."""
    out = {}
    for side, ids, best, query, other in (
        ("l", path.left_ids, path.left_sims, li, ri),
        ("r", path.right_ids, path.right_sims, ri, li),
    ):
        k = ids.shape[1]
        hit = ids[query] == other[:, None]  # (n_pairs, k)
        rank = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, k + 1)
        first_is_pair = ids[query, 0] == other
        rival = np.where(first_is_pair, 1, 0)  # the best neighbour other than the pair itself
        rival_sims = best[query, rival]
        competitor = np.where(ids[query, rival] >= 0, rival_sims, 0.0)  # no rival: margin = sim
        out[f"rank_{side}"] = rank.astype(np.float32)
        out[f"margin_{side}"] = sims - competitor
    return {
        "rank_min": np.minimum(out["rank_l"], out["rank_r"]),
        "rank_max": np.maximum(out["rank_l"], out["rank_r"]),
        "margin_min": np.minimum(out["margin_l"], out["margin_r"]),
        "margin_max": np.maximum(out["margin_l"], out["margin_r"]),
    }


def pair_features(enc: EncodedCatalogs, left_idx: np.ndarray, right_idx: np.ndarray) -> pd.DataFrame:
    """One row of features per pair of row numbers (``left_idx[i]``, ``right_idx[i]``)."""
    li, ri = np.asarray(left_idx, dtype=np.int64), np.asarray(right_idx, dtype=np.int64)
    cols: dict[str, np.ndarray] = {}
    for view, (a, b) in enc.tfidf.items():
        cols[f"{view}_cos"] = _row_dot(a[li], b[ri])
    empty_l = np.array([not d for d in enc.left["description"]])[li]
    empty_r = np.array([not d for d in enc.right["description"]])[ri]
    cols["description_word_cos"][empty_l | empty_r] = np.nan
    cols["descriptions_missing"] = (empty_l.astype(np.float32) + empty_r).astype(np.float32)
    title_l, text_l = enc.tfidf["title_word"][0][li], enc.tfidf["text_word"][0][li]
    title_r, text_r = enc.tfidf["title_word"][1][ri], enc.tfidf["text_word"][1][ri]
    cross = np.stack([_row_dot(title_l, text_r), _row_dot(title_r, text_l)])
    cols["title_text_cos_min"], cols["title_text_cos_max"] = cross.min(axis=0), cross.max(axis=0)
    for field, (a, b) in enc.embeddings.items():
        cos = _row_dot(a[li], b[ri])
        missing = ~a[li].any(axis=1) | ~b[ri].any(axis=1)
        cols[f"{field}_emb_cos"] = np.where(missing, np.nan, cos)
    for path, sims_key in (("title_char", "title_char_cos"), ("title_emb", "title_emb_cos")):
        for name, values in _context(enc.neighbours[path], cols[sims_key], li, ri).items():
            cols[f"{path}_{name}"] = values
    if enc.images is not None:
        cols["image_cos"] = _row_dot(enc.images[0][li], enc.images[1][ri])  # NaN rows stay NaN
    if enc.tokens is not None:
        cols.update(alignment_features(*enc.tokens, li, ri))

    rows = [
        _compare(
            enc.left_profiles[i],
            enc.right_profiles[j],
            enc.titles[0][i],
            enc.titles[1][j],
            enc.idf,
            enc.left["price"].iat[i],
            enc.right["price"].iat[j],
        )
        for i, j in zip(li, ri, strict=True)
    ]
    table = pd.DataFrame(rows, index=range(len(li)))
    for name, values in cols.items():
        table[name] = np.asarray(values, dtype=np.float32)
    return table.astype(np.float32)


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else math.nan


def _unmatched_idf(mine: set[str], other_text: set[str], idf: dict[str, float]) -> tuple[float, float]:
    """Share of my title's IDF mass whose words the other listing never uses, and the largest
    IDF among them (a rare word on one side only, e.g. "upgrade" or "mac", often decides)."""
    weights = {t: idf.get(t, 0.0) for t in mine}
    total = sum(weights.values())
    unmatched = [w for t, w in weights.items() if t not in other_text]
    if total == 0:
        return math.nan, math.nan
    return sum(unmatched) / total, max(unmatched, default=0.0)


def _digit_runs(codes: set[str]) -> set[str]:
    """Runs of three or more digits inside codes: the stable core of a model number that shops
    prefix and suffix differently ("pe222604" vs "edgdm-222604-pe")."""
    return {run for code in codes for run in re.findall(r"\d{3,}", code)}


def _id_features(a: Profile, b: Profile) -> dict[str, float]:
    row = dict.fromkeys(
        (
            "id_exact",
            "id_in_other_text",
            "id_similarity",
            "id_partial_similarity",
            "id_digits_shared",
            "id_conflict",
        ),
        math.nan,
    )
    if not a.title_ids and not b.title_ids:
        return row
    contained = any(c in b.text_compact for c in a.title_ids if len(c) >= 5) or any(
        c in a.text_compact for c in b.title_ids if len(c) >= 5
    )
    row["id_in_other_text"] = float(contained)
    if not a.title_ids or not b.title_ids:
        return row
    exact = bool(a.title_ids & b.title_ids)
    pairs = [(x, y) for x in a.title_ids for y in b.title_ids]
    digits_a, digits_b = _digit_runs(a.title_ids), _digit_runs(b.title_ids)
    row["id_exact"] = float(exact)
    row["id_similarity"] = max(fuzz.ratio(x, y) for x, y in pairs) / 100.0
    row["id_partial_similarity"] = max(fuzz.partial_ratio(x, y) for x, y in pairs) / 100.0
    row["id_digits_shared"] = float(bool(digits_a & digits_b)) if digits_a and digits_b else math.nan
    row["id_conflict"] = float(not exact and not contained)
    return row


def _compare(
    a: Profile,
    b: Profile,
    title_a: str,
    title_b: str,
    idf: dict[str, float],
    price_a: float,
    price_b: float,
) -> dict[str, float]:
    row: dict[str, float] = {}
    row["title_jaccard"] = _jaccard(a.title_tokens, b.title_tokens)
    shared = len(a.title_tokens & b.title_tokens)
    smaller = min(len(a.title_tokens), len(b.title_tokens))
    row["title_containment"] = shared / smaller if smaller else math.nan
    row["text_jaccard"] = _jaccard(a.text_tokens, b.text_tokens)
    longer = max(len(a.title_tokens), len(b.title_tokens))
    row["title_length_ratio"] = smaller / longer if longer else math.nan
    row["title_token_set_ratio"] = fuzz.token_set_ratio(title_a, title_b) / 100.0
    row["title_token_sort_ratio"] = fuzz.token_sort_ratio(title_a, title_b) / 100.0
    row["title_partial_ratio"] = fuzz.partial_ratio(title_a, title_b) / 100.0
    share_a, max_a = _unmatched_idf(a.title_tokens, b.text_tokens, idf)
    share_b, max_b = _unmatched_idf(b.title_tokens, a.text_tokens, idf)
    row["unmatched_idf_share_max"] = _nanmax(share_a, share_b)
    row["unmatched_idf_share_min"] = _nanmin(share_a, share_b)
    row["unmatched_idf_max"] = _nanmax(max_a, max_b)

    row["title_numbers_jaccard"] = _jaccard(a.title_numbers, b.title_numbers)
    row["title_numbers_unmatched"] = float(
        len(a.title_numbers - b.text_numbers) + len(b.title_numbers - a.text_numbers)
    )
    row.update(_id_features(a, b))
    row["gtin_match"] = float(bool(a.gtins & b.gtins)) if a.gtins and b.gtins else math.nan

    agree = conflict = 0
    for family in UNIT_FAMILIES:
        qa, qb = a.quantities.get(family), b.quantities.get(family)
        if qa and qb:
            same = quantities_agree(qa, qb)
            row[f"{family}_conflict"] = float(not same)
            agree, conflict = agree + same, conflict + (not same)
        else:
            row[f"{family}_conflict"] = math.nan
    row["units_agree"], row["units_conflict"] = float(agree), float(conflict)
    row["colour_conflict"] = float(not a.colours & b.colours) if a.colours and b.colours else math.nan

    if a.brand and b.brand:
        row["brand_match"] = float(a.brand.startswith(b.brand) or b.brand.startswith(a.brand))
    else:
        row["brand_match"] = math.nan
    row["brand_in_other_text"] = _nanmax(_brand_in(a.brand, b), _brand_in(b.brand, a))
    row["category_jaccard"] = _jaccard(a.category_tokens, b.category_tokens)

    shared_keys = a.specs.keys() & b.specs.keys()
    row["spec_keys_shared"] = float(len(shared_keys))
    row["spec_values_agree"] = (
        sum(a.specs[k] == b.specs[k] for k in shared_keys) / len(shared_keys) if shared_keys else math.nan
    )
    if price_a > 0 and price_b > 0:
        row["price_ratio"] = min(price_a, price_b) / max(price_a, price_b)
    else:
        row["price_ratio"] = math.nan
    return row


def _nanmax(x: float, y: float) -> float:
    return y if math.isnan(x) else x if math.isnan(y) else max(x, y)


def _nanmin(x: float, y: float) -> float:
    return y if math.isnan(x) else x if math.isnan(y) else min(x, y)


def _brand_in(brand: str, other: Profile) -> float:
    if not brand:
        return math.nan
    return float(brand in other.text_compact if len(brand) >= 4 else brand in other.text_tokens)
