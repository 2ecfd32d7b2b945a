"""Product matching for the API: request listings in, the matcher's scores and explanations out.

The matcher (``product.matching.matcher``) scores pairs between two catalogs; a request's listings
become one-row catalogs. Its pair features are relative to the catalogs (TF-IDF, blocking ranks),
so a pair is scored against each other alone, and a single listing against the loaded catalog.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from product.matching.listing import listings_from_frame
from product.matching.matcher import Matcher
from serving.schemas import Listing, PairScore

EXPLAIN = 3  # features named in each explanation


def as_catalog(listings: list[Listing], source: str) -> pd.DataFrame:
    return listings_from_frame(pd.DataFrame([listing.model_dump() for listing in listings]), source=source)


def match_pairs(
    matcher: Matcher,
    left: Listing,
    right: pd.DataFrame,
    k: int,
    cache_root: Path | None = None,
    pairs: pd.DataFrame | None = None,
) -> list[PairScore]:
    """The ``k`` best-scored pairs of ``left`` with listings of ``right`` (all blocking candidates,
    or only ``pairs``), best first."""
    left_catalog = as_catalog([left], "left")
    encoded = matcher.encode(left_catalog, right, cache_root)
    scored = matcher.predict_pairs(left_catalog, right, pairs, explain=EXPLAIN, enc=encoded).head(k)
    return [
        PairScore(
            right_id=str(row.right_id), probability=float(row.score), match=bool(row.match), why=row.why
        )
        for row in scored.itertuples()
    ]


def match_pair(matcher: Matcher, left: Listing, right: Listing, cache_root: Path | None = None) -> PairScore:
    """The match probability of two listings, with its explanation."""
    pair = pd.DataFrame({"left_id": [left.id], "right_id": [right.id]})
    return match_pairs(matcher, left, as_catalog([right], "right"), 1, cache_root, pair)[0]
