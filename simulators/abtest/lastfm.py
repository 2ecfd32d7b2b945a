"""Artists, tags and listeners of Last.fm (HetRec 2011, ``hetrec2011-lastfm-2k``) as a creator world.

- **Genres** are the ``num_tags`` tags given to the most distinct artists (24 by default: rock,
  electronic, alternative, pop, indie, female vocalists, experimental, dance, ... on the real
  files), skipping ``skip_tags`` — "seen live" by default, which says where the tagger was, not
  what the music is. Some kept tags are eras or voices ("80s", "female vocalists"), not genres.
- An **artist's tag vector** is how often users gave it each of those tags, normalised to sum to
  one; artists with none of them (or absent from ``artists.dat``) are dropped and counted.
- A **user's taste** is the listening-weighted mean of the tag vectors of the artists they played
  (weights: the user's share of their own play counts), scaled to unit length; users left with no
  tagged artist are dropped and counted.
- **Creators** start as real artists: their topics are the artist's tag vector with a little of
  the uniform mix (:func:`creator_topics`).

Files (tab-separated with a header, ``.gz`` read as gzip): ``artists.dat`` (id, name, url,
pictureURL; UTF-8), ``tags.dat`` (tagID, tagValue; latin-1), ``user_taggedartists.dat`` (userID,
artistID, tagID, day, month, year), ``user_artists.dat`` (userID, artistID, weight). A bad row
raises ``ValueError`` naming the file, the line and the field.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsys.data import Interactions

FILES = {
    "artists": ("artists.dat.gz", ("id", "name", "url", "pictureURL"), "utf-8"),
    "tags": ("tags.dat", ("tagID", "tagValue"), "latin-1"),
    "tagged": ("user_taggedartists.dat.gz", ("userID", "artistID", "tagID", "day", "month", "year"), "utf-8"),
    "listens": ("user_artists.dat.gz", ("userID", "artistID", "weight"), "utf-8"),
}


@dataclass(frozen=True)
class LastfmWorld:
    """Artists as items with tag vectors, users with tag tastes, and the play counts between them.

    Attributes:
        artist_ids: (A,) Last.fm artist ids kept (each with at least one of the tags).
        names: (A,) artist names.
        tags: (T,) the tag names used as genres, most widely used first.
        tag_vectors: (A, T) share of each artist's tag assignments per tag; rows sum to 1.
        user_ids: (U,) Last.fm user ids kept.
        user_taste: (U, T) listening-weighted tag mix per user, unit rows.
        listens: user x artist events over (U, A) internal indices, ``ratings`` the play counts.
        stats: what reading dropped (rows, artists, users), by reason.
    """

    artist_ids: np.ndarray
    names: list[str]
    tags: list[str]
    tag_vectors: np.ndarray
    user_ids: np.ndarray
    user_taste: np.ndarray
    listens: Interactions
    stats: dict[str, int] = field(default_factory=dict)


def _rows(path: Path, header: Sequence[str], encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-empty data line; the header must be ``header``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding=encoding, newline="") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                fields = line.rstrip("\r\n").split("\t")
                if number == 1:
                    if tuple(fields) != tuple(header):
                        raise ValueError(f"{path}, line 1: header {fields}, expected {list(header)}")
                    continue
                if not line.strip():
                    continue
                if len(fields) != len(header):
                    raise ValueError(
                        f"{path}, line {number}: {len(fields)} tab-separated fields, expected {len(header)}"
                    )
                yield number, fields
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not {encoding} text ({err.reason} at byte {err.start})") from None


def _integer(path: Path, number: int, name: str, value: str, minimum: int = 0) -> int:
    try:
        parsed = int(value)
    except ValueError:
        raise ValueError(f"{path}, line {number}: field '{name}' is not an integer: {value!r}") from None
    if parsed < minimum:
        raise ValueError(f"{path}, line {number}: field '{name}' must be >= {minimum}, got {parsed}")
    return parsed


def _file(folder: Path, key: str) -> tuple[Path, tuple[str, ...], str]:
    name, header, encoding = FILES[key]
    path = folder / name
    if not path.exists() and (folder / name.removesuffix(".gz")).exists():
        path = folder / name.removesuffix(".gz")  # an unzipped copy of the release
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (the Last.fm HetRec 2011 file {name.removesuffix('.gz')})")
    return path, header, encoding


def read_lastfm(
    folder: str | Path, num_tags: int = 24, skip_tags: Sequence[str] = ("seen live",)
) -> LastfmWorld:
    """Read the four Last.fm files in ``folder`` into a :class:`LastfmWorld` (see the module doc)."""
    folder = Path(folder)
    if num_tags < 1:
        raise ValueError(f"num_tags: expected a positive integer, got {num_tags}")
    path, header, encoding = _file(folder, "artists")
    names: dict[int, str] = {}
    for number, fields in _rows(path, header, encoding):
        names[_integer(path, number, "id", fields[0])] = fields[1]
    path, header, encoding = _file(folder, "tags")
    tag_names: dict[int, str] = {}
    for number, fields in _rows(path, header, encoding):
        tag_names[_integer(path, number, "tagID", fields[0])] = fields[1]
    path, header, encoding = _file(folder, "tagged")
    assignments = []  # (artist, tag)
    stats = {"tag_rows_unknown_artist": 0}
    for number, fields in _rows(path, header, encoding):
        artist = _integer(path, number, "artistID", fields[1])
        tag = _integer(path, number, "tagID", fields[2])
        _integer(path, number, "userID", fields[0])
        if tag not in tag_names:
            raise ValueError(f"{path}, line {number}: field 'tagID' {tag} is not in tags.dat")
        if artist not in names:  # the release tags ~1,500 artists that artists.dat does not list
            stats["tag_rows_unknown_artist"] += 1
            continue
        assignments.append((artist, tag))
    if not assignments:
        raise ValueError(f"{path}: no tag assignment of a listed artist")
    pairs = np.array(assignments, dtype=np.int64)  # (N, 2)
    skip = {t for t, name in tag_names.items() if name in set(skip_tags)}
    distinct = np.unique(pairs, axis=0)
    tag_ids, spread = np.unique(distinct[:, 1], return_counts=True)
    order = [t for t in tag_ids[np.argsort(-spread, kind="stable")] if t not in skip][:num_tags]
    column = {int(t): j for j, t in enumerate(order)}
    on_top = np.isin(pairs[:, 1], order)
    artist_ids = np.unique(pairs[on_top, 0])
    row = {int(a): i for i, a in enumerate(artist_ids)}
    vectors = np.zeros((len(artist_ids), len(order)))
    np.add.at(
        vectors,
        ([row[int(a)] for a in pairs[on_top, 0]], [column[int(t)] for t in pairs[on_top, 1]]),
        1.0,
    )
    vectors /= vectors.sum(1, keepdims=True)
    stats["artists_without_tags"] = len(names) - len(artist_ids)

    path, header, encoding = _file(folder, "listens")
    users, items, weights = [], [], []
    stats["listen_rows_untagged_artist"] = 0
    everyone = set()
    for number, fields in _rows(path, header, encoding):
        user = _integer(path, number, "userID", fields[0])
        artist = _integer(path, number, "artistID", fields[1])
        weight = _integer(path, number, "weight", fields[2], minimum=1)
        if artist not in names:
            raise ValueError(f"{path}, line {number}: field 'artistID' {artist} is not in artists.dat")
        everyone.add(user)
        if artist not in row:
            stats["listen_rows_untagged_artist"] += 1
            continue
        users.append(user)
        items.append(row[artist])
        weights.append(weight)
    if not users:
        raise ValueError(f"{path}: no listening row for a tagged artist")
    user_ids, user_index = np.unique(np.array(users, dtype=np.int64), return_inverse=True)
    stats["users_without_tagged_artists"] = len(everyone) - len(user_ids)
    items_arr, plays = np.array(items, dtype=np.int64), np.array(weights, dtype=np.float64)
    share = plays / np.bincount(user_index, weights=plays)[user_index]  # each user's play shares
    taste = np.zeros((len(user_ids), len(order)))
    np.add.at(taste, user_index, share[:, None] * vectors[items_arr])
    taste /= np.linalg.norm(taste, axis=1, keepdims=True)
    listens = Interactions(
        users=user_index.astype(np.int64),
        items=items_arr,
        num_users=len(user_ids),
        num_items=len(artist_ids),
        ratings=plays.astype(np.float32),
        user_ids=user_ids,
        item_ids=artist_ids,
    )
    return LastfmWorld(
        artist_ids=artist_ids,
        names=[names[int(a)] for a in artist_ids],
        tags=[tag_names[t] for t in order],
        tag_vectors=vectors,
        user_ids=user_ids,
        user_taste=taste,
        listens=listens,
        stats=stats,
    )


def creator_topics(
    world: LastfmWorld, num_creators: int, seed: int, min_listeners: int = 5, prior: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Creators started from real artists: a seeded sample of the artists with at least
    ``min_listeners`` listeners, and their topics, the artist's tag vector mixed with ``prior`` of
    the uniform mix (so a creator may still try any genre).

    Returns:
        (C,) rows of ``world``'s artists and (C, T) topics, rows summing to 1.
    """
    listeners = np.bincount(world.listens.items, minlength=len(world.artist_ids))
    eligible = np.flatnonzero(listeners >= min_listeners)
    if len(eligible) < num_creators:
        raise ValueError(
            f"num_creators: {num_creators} asked, only {len(eligible)} artists have "
            f">= {min_listeners} listeners"
        )
    rows = np.sort(np.random.default_rng(seed).choice(eligible, size=num_creators, replace=False))
    topics = (1 - prior) * world.tag_vectors[rows] + prior / world.tag_vectors.shape[1]
    return rows, topics
