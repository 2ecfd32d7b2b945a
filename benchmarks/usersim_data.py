"""The logs the user-simulator benchmark reads, with what its prompts and protocol 2 show of items.

- ``ml-100k``: ``u.data`` (with timestamps), ``u.item`` titles, years and genres, ``u.user`` personas.
- ``ml-1m``: the shared folder's ratings (``user_id,item_idx,rating``, no timestamps), item_idx
  mapped to MovieIDs by ``item_idx_to_movie_id.csv`` (ratings of the unmapped, ambiguous items
  dropped), ``movies.dat`` titles, years and genres, ``users.dat`` personas. Without timestamps
  there is no "last" event: a seeded random order of each user's ratings (seed 2026) stands in for
  time, so the held-out target is a random rating and the history ten other random ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.data import Interactions
from recsys.movie_catalog import MovieCatalog

DATASETS = ("ml-100k", "ml-1m")


@dataclass(frozen=True)
class Corpus:
    """A log, its movie catalog and one persona per internal user id.

    Attributes:
        name: data-set name in the result rows.
        log: the ratings (item ids are MovieIDs of ``catalog``).
        catalog: titles, years and genres.
        personas: persona text by internal user id.
        target: how the held-out event is chosen, for the rows' protocol text.
    """

    name: str
    log: Interactions
    catalog: MovieCatalog
    personas: list[str]
    target: str


def read_corpus(name: str) -> Corpus:
    from alignrec.settings import require_data
    from recsys.movie_catalog import read_ml1m_movies, read_ml100k_items
    from recsys.readers import read_movielens_100k
    from simulators.preference_data import read_ml1m_personas, read_ml100k_personas

    if name == "ml-100k":
        log = read_movielens_100k(require_data("ml-100k/u.data.gz"))
        catalog = read_ml100k_items(require_data("ml-100k/u.item"), require_data("ml-100k/u.genre"))
        personas = read_ml100k_personas(require_data("ml-100k/u.user"), log)
        return Corpus(name, log, catalog, personas, "last rating the target")
    if name == "ml-1m":
        log = ml1m_log()
        catalog = read_ml1m_movies(require_data("ml-1m/movies.dat"))
        personas = read_ml1m_personas(require_data("ml-1m/users.dat"), log)
        target = "a random rating the target (no timestamps: seeded random order as time)"
        return Corpus(name, log, catalog, personas, target)
    raise ValueError(f"unknown data set {name!r}; one of {', '.join(DATASETS)}")


def ml1m_log(seed: int = 2026) -> Interactions:
    """ML-1M's ratings with MovieIDs as item ids and a seeded random order as timestamps."""
    import pandas as pd

    from alignrec.settings import require_data
    from recsys.data import from_frame
    from recsys.movie_catalog import read_item_idx_map

    frame = pd.read_csv(require_data("ml-1m/ratings_svdapprox.csv.gz"))
    movie = read_item_idx_map(require_data("ml-1m/item_idx_to_movie_id.csv"))
    frame["item"] = frame["item_idx"].map(movie)
    frame = frame.dropna(subset=["item"]).astype({"item": np.int64})
    frame["timestamp"] = np.random.default_rng(seed).permutation(len(frame))
    return from_frame(frame, user_col="user_id", item_col="item")
