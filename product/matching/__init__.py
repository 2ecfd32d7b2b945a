"""Product mapping: which listings of two shops are the same product (see docs/matching.md)."""

from product.matching.listing import LISTING_COLUMNS, listings_from_frame, load_listings
from product.matching.matcher import Matcher, MatcherConfig

__all__ = ["LISTING_COLUMNS", "Matcher", "MatcherConfig", "listings_from_frame", "load_listings"]
