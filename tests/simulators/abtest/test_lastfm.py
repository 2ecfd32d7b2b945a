"""The Last.fm reader on tiny files in the release's format, and on the real files when present."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from simulators.abtest.lastfm import creator_topics, read_lastfm

ARTISTS = [("1", "Alpha", "u1", "p1"), ("2", "Beta", "u2", "p2"), ("3", "Gamma", "", ""), ("4", "Q", "", "")]
TAGS = [("10", "rock"), ("11", "pop"), ("12", "seen live"), ("13", "jazz"), ("14", "rare")]
TAGGED = [  # userID artistID tagID day month year
    ("7", "1", "10", "1", "4", "2009"),
    ("8", "1", "10", "1", "4", "2009"),
    ("8", "1", "11", "1", "4", "2009"),
    ("7", "2", "11", "1", "4", "2009"),
    ("8", "2", "13", "1", "4", "2009"),
    ("7", "3", "13", "1", "4", "2009"),
    ("8", "3", "10", "1", "4", "2009"),
    ("7", "1", "12", "1", "4", "2009"),  # seen live: skipped
    ("8", "2", "12", "1", "4", "2009"),
    ("7", "3", "12", "1", "4", "2009"),
    ("7", "4", "14", "1", "4", "2009"),  # the only tag of artist 4, not among the top 3
    ("9", "99", "10", "1", "4", "2009"),  # an artist missing from artists.dat
]
LISTENED, LISTEN_HEADER = "user_artists.dat.gz", "userID\tartistID\tweight"
TAGGED_FILE, TAGGED_HEADER = "user_taggedartists.dat.gz", "userID\tartistID\ttagID\tday\tmonth\tyear"
LISTENS = [("7", "1", "300"), ("7", "2", "100"), ("8", "3", "50"), ("9", "4", "10")]


def write(folder: Path, name: str, header: str, rows, encoding="utf-8", crlf=False) -> None:
    end = "\r\n" if crlf else "\n"
    text = end.join([header, *("\t".join(r) for r in rows)]) + end
    if name.endswith(".gz"):
        with gzip.open(folder / name, "wt", encoding=encoding, newline="") as handle:
            handle.write(text)
    else:
        (folder / name).write_text(text, encoding=encoding, newline="")


@pytest.fixture
def release(tmp_path):
    write(tmp_path, "artists.dat.gz", "id\tname\turl\tpictureURL", ARTISTS, crlf=True)
    write(tmp_path, "tags.dat", "tagID\ttagValue", TAGS, encoding="latin-1", crlf=True)
    write(tmp_path, TAGGED_FILE, TAGGED_HEADER, TAGGED)
    write(tmp_path, LISTENED, LISTEN_HEADER, LISTENS, crlf=True)
    return tmp_path


def test_top_tags_vectors_and_tastes(release):
    world = read_lastfm(release, num_tags=3)
    assert world.tags == ["rock", "pop", "jazz"]  # each on 2 artists; "seen live" skipped
    assert world.artist_ids.tolist() == [1, 2, 3] and world.names == ["Alpha", "Beta", "Gamma"]
    assert np.allclose(world.tag_vectors, [[2 / 3, 1 / 3, 0], [0, 1 / 2, 1 / 2], [1 / 2, 0, 1 / 2]])
    # user 7: 3/4 of plays on Alpha, 1/4 on Beta; user 9 only played the untagged artist 4
    assert world.user_ids.tolist() == [7, 8]
    expected = 0.75 * world.tag_vectors[0] + 0.25 * world.tag_vectors[1]
    assert np.allclose(world.user_taste[0], expected / np.linalg.norm(expected))
    assert np.allclose(np.linalg.norm(world.user_taste, axis=1), 1)
    assert world.listens.num_users == 2 and world.listens.num_items == 3
    assert world.listens.ratings.tolist() == [300, 100, 50]
    assert world.stats == {
        "tag_rows_unknown_artist": 1,
        "artists_without_tags": 1,
        "listen_rows_untagged_artist": 1,
        "users_without_tagged_artists": 1,
    }


def test_unzipped_files_read_alike(release):
    for name in ("artists.dat.gz", "user_artists.dat.gz"):
        with gzip.open(release / name, "rb") as handle:
            (release / name.removesuffix(".gz")).write_bytes(handle.read())
        (release / name).unlink()
    assert read_lastfm(release, num_tags=3).tags == ["rock", "pop", "jazz"]


@pytest.mark.parametrize(
    ("name", "header", "rows", "message"),
    [
        (LISTENED, LISTEN_HEADER, [("7", "1", "lots")], r"line 2: field 'weight'"),
        (LISTENED, LISTEN_HEADER, [("7", "1", "0")], r"line 2: field 'weight' must"),
        (LISTENED, LISTEN_HEADER, [("7", "1")], r"line 2: 2 tab-separated fields"),
        (LISTENED, LISTEN_HEADER, [("7", "5", "3")], r"line 2: field 'artistID' 5"),
        (LISTENED, "user\tartist\tweight", [("7", "1", "3")], r"line 1: header"),
        (TAGGED_FILE, TAGGED_HEADER, [("7", "1", "77", "1", "1", "1")], "tagID' 77"),
        ("tags.dat", "tagID\ttagValue", [("x", "rock")], r"tags.dat, line 2: field 'tagID'"),
    ],
)
def test_bad_rows_name_the_file_and_line(release, name, header, rows, message):
    write(release, name, header, rows)
    with pytest.raises(ValueError, match=message) as caught:
        read_lastfm(release, num_tags=3)
    assert name.removesuffix(".gz") in str(caught.value)


def test_missing_file_is_named(release):
    (release / "tags.dat").unlink()
    with pytest.raises(FileNotFoundError, match="tags.dat"):
        read_lastfm(release)


def test_creators_start_from_listened_artists(release):
    world = read_lastfm(release, num_tags=3)
    rows, topics = creator_topics(world, 2, seed=0, min_listeners=1, prior=0.3)
    assert len(set(rows.tolist())) == 2 and set(rows.tolist()) <= {0, 1, 2}
    assert np.allclose(topics, 0.7 * world.tag_vectors[rows] + 0.1) and np.allclose(topics.sum(1), 1)
    with pytest.raises(ValueError, match="num_creators"):
        creator_topics(world, 3, seed=0, min_listeners=2)


@pytest.mark.data
def test_the_real_release(shared_data):
    folder = shared_data / "lastfm-hetrec2011"
    if not folder.exists():
        pytest.skip(f"{folder} not found")
    world = read_lastfm(folder)
    assert len(world.tags) == 24 and world.tags[:3] == ["rock", "pop", "alternative"]
    assert "seen live" not in world.tags
    assert len(world.artist_ids) > 5000 and len(world.user_ids) > 1800  # of 17,632 artists, 1,892 users
    assert world.stats["tag_rows_unknown_artist"] > 0  # the release tags artists it does not list
    assert np.allclose(world.tag_vectors.sum(1), 1)
    assert np.allclose(np.linalg.norm(world.user_taste, axis=1), 1)
    rows, topics = creator_topics(world, 100, seed=0)
    assert len(set(rows.tolist())) == 100 and (topics > 0).all()
