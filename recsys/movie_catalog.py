"""MovieLens movie catalogs (titles, years, genres) and the item content built from them.

Readers for ML-100K ``u.item`` + ``u.genre`` and ML-1M ``movies.dat``, plus the shared data's
``item_idx_to_movie_id.csv`` that maps the re-coded ML-1M ratings (``item_idx``) back to MovieIDs.
Every reader checks each line and raises ``ValueError`` naming the file, the line and the field.

Item content for multimodal models: one text per movie, ``"Title (year). Genres: a, b"`` (with a
trailing English article moved to the front: "Usual Suspects, The" -> "The Usual Suspects"), and a
genre multi-hot vector. Items whose movie is unknown get no text (None) and a zero genre row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The 18 genres listed in the ML-1M README, in its order (ML-100K's u.genre adds "unknown" first).
ML1M_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
    "Western",
)  # fmt: skip

_TITLE_YEAR = re.compile(r"^(?P<title>.*\S)\s+\((?P<year>\d{4})\)$")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<article>The|A|An)$")


@dataclass(frozen=True)
class MovieCatalog:
    """Movies of one MovieLens release.

    Attributes:
        movie_ids: (M,) int64 MovieIDs, unique.
        titles: M titles without the year, as in the file ("Usual Suspects, The").
        years: (M,) int64 release years, 0 where the title carries none.
        genres: M tuples of genre names.
        genre_names: every genre name, in the order of the multi-hot columns.
    """

    movie_ids: np.ndarray
    titles: list[str]
    years: np.ndarray
    genres: list[tuple[str, ...]]
    genre_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.movie_ids)

    def texts(self) -> list[str]:
        """One ``"Title (year). Genres: a, b"`` text per movie."""
        return [
            movie_text(title, int(year), genres)
            for title, year, genres in zip(self.titles, self.years, self.genres, strict=True)
        ]

    def genre_matrix(self) -> np.ndarray:
        """(M, G) float32 multi-hot genre vectors, columns in ``genre_names`` order."""
        column = {name: j for j, name in enumerate(self.genre_names)}
        matrix = np.zeros((len(self), len(self.genre_names)), dtype=np.float32)
        for row, names in enumerate(self.genres):
            matrix[row, [column[name] for name in names]] = 1.0
        return matrix


def natural_title(title: str) -> str:
    """Move a trailing English article to the front: "Usual Suspects, The" -> "The Usual Suspects"."""
    match = _TRAILING_ARTICLE.match(title)
    return f"{match['article']} {match['rest']}" if match else title


def movie_text(title: str, year: int, genres: Sequence[str]) -> str:
    """``"The Usual Suspects (1995). Genres: Crime, Thriller"``; no year part when ``year`` is 0."""
    head = natural_title(title) + (f" ({year})" if year else "")
    return f"{head}. Genres: {', '.join(genres) if genres else 'none'}"


def _split_title(title: str) -> tuple[str, int]:
    """("Toy Story", 1995) from "Toy Story (1995)"; (title, 0) when no trailing year."""
    match = _TITLE_YEAR.match(title.strip())
    return (match["title"], int(match["year"])) if match else (title.strip(), 0)


def _int_field(value: str, path: Path, line_no: int, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{path}, line {line_no}: field '{field}' is not an integer: {value!r}") from None


def _lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, line without its newline) for every non-blank line (latin-1)."""
    with open(path, encoding="latin-1") as handle:
        return [(no, line.rstrip("\r\n")) for no, line in enumerate(handle, start=1) if line.strip()]


def _catalog(
    path: Path, rows: list[tuple[int, int, str, tuple[str, ...]]], genre_names: tuple[str, ...]
) -> MovieCatalog:
    """Build a catalog from (line, movie_id, raw title, genres) rows, rejecting duplicate ids."""
    seen: dict[int, int] = {}
    for line_no, movie_id, _, _ in rows:
        if movie_id in seen:
            first = seen[movie_id]
            raise ValueError(
                f"{path}, line {line_no}: field 'movie_id' repeats {movie_id} (first on line {first})"
            )
        seen[movie_id] = line_no
    split = [_split_title(title) for _, _, title, _ in rows]
    return MovieCatalog(
        movie_ids=np.array([movie_id for _, movie_id, _, _ in rows], dtype=np.int64),
        titles=[title for title, _ in split],
        years=np.array([year for _, year in split], dtype=np.int64),
        genres=[genres for *_, genres in rows],
        genre_names=genre_names,
    )


def read_ml100k_genres(path: str | Path) -> tuple[str, ...]:
    """ML-100K ``u.genre``: ``name|id`` lines with ids 0, 1, 2, ... in order."""
    path = Path(path)
    names = []
    for line_no, line in _lines(path):
        fields = line.split("|")
        if len(fields) != 2:
            raise ValueError(f"{path}, line {line_no}: expected 2 '|'-separated fields, got {len(fields)}")
        name, genre_id = fields
        if not name:
            raise ValueError(f"{path}, line {line_no}: field 'genre' is empty")
        if _int_field(genre_id, path, line_no, "genre_id") != len(names):
            raise ValueError(f"{path}, line {line_no}: field 'genre_id' is {genre_id}, expected {len(names)}")
        names.append(name)
    if not names:
        raise ValueError(f"{path}: no genres")
    return tuple(names)


def read_ml100k_items(item_path: str | Path, genre_path: str | Path) -> MovieCatalog:
    """ML-100K ``u.item`` (``movie_id|title|release_date|video_release_date|imdb_url|`` then one 0/1
    flag per genre of ``u.genre``), latin-1, no header."""
    path = Path(item_path)
    genre_names = read_ml100k_genres(genre_path)
    width = 5 + len(genre_names)
    rows = []
    for line_no, line in _lines(path):
        fields = line.split("|")
        if len(fields) != width:
            raise ValueError(
                f"{path}, line {line_no}: expected {width} '|'-separated fields "
                f"(5 + {len(genre_names)} genre flags), got {len(fields)}"
            )
        movie_id = _int_field(fields[0], path, line_no, "movie_id")
        if not fields[1].strip():
            raise ValueError(f"{path}, line {line_no}: field 'title' is empty")
        flags = fields[5:]
        for name, flag in zip(genre_names, flags, strict=True):
            if flag not in ("0", "1"):
                raise ValueError(f"{path}, line {line_no}: field '{name}' (genre flag) is {flag!r}, not 0/1")
        genres = tuple(name for name, flag in zip(genre_names, flags, strict=True) if flag == "1")
        rows.append((line_no, movie_id, fields[1], genres))
    return _catalog(path, rows, genre_names)


def read_ml1m_movies(path: str | Path) -> MovieCatalog:
    """ML-1M ``movies.dat``: ``MovieID::Title::Genres`` (genres ``|``-separated), latin-1."""
    path = Path(path)
    known = set(ML1M_GENRES)
    rows = []
    for line_no, line in _lines(path):
        fields = line.split("::")
        if len(fields) != 3:
            raise ValueError(f"{path}, line {line_no}: expected 3 '::'-separated fields, got {len(fields)}")
        movie_id = _int_field(fields[0], path, line_no, "movie_id")
        if not fields[1].strip():
            raise ValueError(f"{path}, line {line_no}: field 'title' is empty")
        genres = tuple(fields[2].split("|")) if fields[2] else ()
        unknown = [g for g in genres if g not in known]
        if unknown:
            raise ValueError(f"{path}, line {line_no}: field 'genres' has unknown genre(s) {unknown}")
        rows.append((line_no, movie_id, fields[1], genres))
    return _catalog(path, rows, ML1M_GENRES)


def read_item_idx_map(path: str | Path) -> dict[int, int]:
    """The shared data's ML-1M ``item_idx_to_movie_id.csv`` (``item_idx,movie_id,method,candidates``)
    as item_idx -> MovieID. Rows of method ``ambiguous`` have no MovieID and are left out."""
    path = Path(path)
    lines = _lines(path)
    header = ["item_idx", "movie_id", "method", "candidates"]
    if not lines or lines[0][1].split(",") != header:
        raise ValueError(f"{path}, line 1: header must be {','.join(header)}")
    mapping: dict[int, int] = {}
    for line_no, line in lines[1:]:
        fields = line.split(",")
        if len(fields) != 4:
            raise ValueError(f"{path}, line {line_no}: expected 4 ','-separated fields, got {len(fields)}")
        item_idx = _int_field(fields[0], path, line_no, "item_idx")
        if item_idx in mapping:
            raise ValueError(f"{path}, line {line_no}: field 'item_idx' repeats {item_idx}")
        method = fields[2]
        if method == "ambiguous":
            if fields[1]:
                raise ValueError(f"{path}, line {line_no}: field 'movie_id' must be empty when ambiguous")
            continue
        if method not in ("user_set_match", "order_gap"):
            raise ValueError(f"{path}, line {line_no}: field 'method' is {method!r}")
        mapping[item_idx] = _int_field(fields[1], path, line_no, "movie_id")
    return mapping


def item_content(
    catalog: MovieCatalog, movie_ids: Sequence[int | None]
) -> tuple[list[str | None], np.ndarray]:
    """Texts and (N, G) genre multi-hot rows for items given by MovieID (None: unknown movie, which
    gets text None and a zero row). A MovieID absent from the catalog raises ValueError."""
    row_of = {int(movie_id): row for row, movie_id in enumerate(catalog.movie_ids)}
    missing = sorted({m for m in movie_ids if m is not None and m not in row_of})
    if missing:
        raise ValueError(f"movie ids {missing[:10]} (of {len(missing)}) are not in the catalog")
    texts, genres = catalog.texts(), catalog.genre_matrix()
    rows = [None if m is None else row_of[m] for m in movie_ids]
    out = np.zeros((len(rows), genres.shape[1]), dtype=np.float32)  # (N, G)
    present = [i for i, row in enumerate(rows) if row is not None]
    out[present] = genres[[rows[i] for i in present]]
    return [None if row is None else texts[row] for row in rows], out
