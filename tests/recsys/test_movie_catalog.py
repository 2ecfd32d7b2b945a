"""MovieLens catalog readers on tiny generated files, plus one check on the real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys.movie_catalog import (
    ML1M_GENRES,
    item_content,
    movie_text,
    natural_title,
    read_item_idx_map,
    read_ml1m_movies,
    read_ml100k_items,
)

GENRES_100K = ["unknown", "Action", "Comedy", "Drama"]


def write(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def item_line(movie_id: str, title: str, flags: str) -> str:
    return f"{movie_id}|{title}|01-Jan-1995||http://x|" + "|".join(flags)


@pytest.fixture
def ml100k(tmp_path: Path) -> tuple[Path, Path]:
    genre = write(tmp_path / "u.genre", [f"{name}|{i}" for i, name in enumerate(GENRES_100K)] + [""])
    item = write(
        tmp_path / "u.item",
        [
            item_line("1", "Toy Story (1995)", "0011"),
            item_line("2", "Usual Suspects, The (1995)", "0001"),
            item_line("3", "Cité des enfants perdus, La (1995)", "0100"),
            item_line("4", "unknown", "1000"),
        ],
    )
    return item, genre


def test_ml100k_items_parse_titles_years_genres(ml100k):
    catalog = read_ml100k_items(*ml100k)
    assert catalog.movie_ids.tolist() == [1, 2, 3, 4]
    assert catalog.years.tolist() == [1995, 1995, 1995, 0]
    assert catalog.genre_names == tuple(GENRES_100K)
    assert catalog.texts() == [
        "Toy Story (1995). Genres: Comedy, Drama",
        "The Usual Suspects (1995). Genres: Drama",
        "Cité des enfants perdus, La (1995). Genres: Action",  # latin-1 kept; only English articles move
        "unknown. Genres: unknown",
    ]
    assert catalog.genre_matrix().tolist() == [[0, 0, 1, 1], [0, 0, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0]]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (item_line("5", "X (1990)", "01"), "line 2: expected 9 '|'-separated fields"),
        (item_line("five", "X (1990)", "0100"), "line 2: field 'movie_id' is not an integer: 'five'"),
        (item_line("5", " ", "0100"), "line 2: field 'title' is empty"),
        (item_line("5", "X (1990)", "0120"), "line 2: field 'Comedy' (genre flag) is '2'"),
        (item_line("1", "X (1990)", "0100"), "line 2: field 'movie_id' repeats 1 (first on line 1)"),
    ],
)
def test_ml100k_bad_item_line_names_file_line_field(tmp_path, ml100k, line, message):
    _, genre = ml100k
    bad = write(tmp_path / "bad.item", [item_line("1", "Toy Story (1995)", "0011"), line])
    with pytest.raises(ValueError, match="bad.item, " + message.replace("(", r"\(").replace(")", r"\)")):
        read_ml100k_items(bad, genre)


def test_ml100k_bad_genre_file(tmp_path, ml100k):
    item, _ = ml100k
    genre = write(tmp_path / "u.genre", ["unknown|0", "Action|2"])
    with pytest.raises(ValueError, match=r"u.genre, line 2: field 'genre_id' is 2, expected 1"):
        read_ml100k_items(item, genre)


def test_ml1m_movies_and_validation(tmp_path):
    path = write(
        tmp_path / "movies.dat",
        ["1::Toy Story (1995)::Animation|Children's|Comedy", "2::Jumanji (1995)::Adventure"],
    )
    catalog = read_ml1m_movies(path)
    assert catalog.texts()[0] == "Toy Story (1995). Genres: Animation, Children's, Comedy"
    assert catalog.genre_names == ML1M_GENRES
    assert catalog.genre_matrix().sum(1).tolist() == [3.0, 1.0]
    bad = write(tmp_path / "bad.dat", ["1::Toy Story (1995)::Animation", "2::Jumanji (1995)::Adventur"])
    with pytest.raises(ValueError, match=r"bad.dat, line 2: field 'genres' has unknown genre"):
        read_ml1m_movies(bad)
    short = write(tmp_path / "short.dat", ["1::Toy Story (1995)"])
    with pytest.raises(ValueError, match=r"short.dat, line 1: expected 3 '::'-separated fields"):
        read_ml1m_movies(short)


def test_item_idx_map_skips_ambiguous_and_validates(tmp_path):
    header = "item_idx,movie_id,method,candidates"
    path = write(tmp_path / "map.csv", [header, "1,1,user_set_match,", "2,,ambiguous,2|3", "3,4,order_gap,"])
    assert read_item_idx_map(path) == {1: 1, 3: 4}
    bad = write(tmp_path / "bad.csv", [header, "1,x,user_set_match,"])
    with pytest.raises(ValueError, match=r"bad.csv, line 2: field 'movie_id' is not an integer"):
        read_item_idx_map(bad)
    wrong = write(tmp_path / "wrong.csv", [header, "1,1,guess,"])
    with pytest.raises(ValueError, match=r"wrong.csv, line 2: field 'method' is 'guess'"):
        read_item_idx_map(wrong)


def test_item_content_aligns_rows_and_marks_unknown(ml100k):
    catalog = read_ml100k_items(*ml100k)
    texts, genres = item_content(catalog, [2, None, 1])
    assert texts == [
        "The Usual Suspects (1995). Genres: Drama",
        None,
        "Toy Story (1995). Genres: Comedy, Drama",
    ]
    assert genres.shape == (3, 4) and genres.dtype == np.float32
    assert genres[1].sum() == 0 and genres[2].tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match=r"movie ids \[9\]"):
        item_content(catalog, [9])


def test_text_helpers():
    assert natural_title("Graduate, The") == "The Graduate"
    assert natural_title("Man Who Knew Too Much, The") == "The Man Who Knew Too Much"
    assert natural_title("Beauty and the Beast") == "Beauty and the Beast"
    assert movie_text("Heat", 1995, ()) == "Heat (1995). Genres: none"


@pytest.mark.data
def test_real_catalogs_cover_the_rated_movies(shared_data):
    ml100k = read_ml100k_items(shared_data / "ml-100k/u.item", shared_data / "ml-100k/u.genre")
    assert len(ml100k) == 1682 and len(ml100k.genre_names) == 19
    ml1m = read_ml1m_movies(shared_data / "ml-1m/movies.dat")
    mapping = read_item_idx_map(shared_data / "ml-1m/item_idx_to_movie_id.csv")
    assert len(ml1m) == 3883 and len(mapping) == 3706 - 95
    texts, genres = item_content(ml1m, [mapping.get(i) for i in range(1, 3707)])
    assert sum(t is None for t in texts) == 95
    assert (genres.sum(1) > 0).sum() == 3706 - 95
