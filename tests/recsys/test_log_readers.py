import gzip
import json

import numpy as np
import pandas as pd
import pytest

from recsys.readers import (
    detect_sep,
    read_amazon_reviews,
    read_interactions,
    read_mmrec_inter,
    read_movielens_1m,
    read_movielens_100k,
    read_movielens_latest,
)


def test_csv_with_column_mapping(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("uid,iid,stars,ts\na,x,5,10\nb,x,3,11\na,y,4,12\n")
    data = read_interactions(path, {"user": "uid", "item": "iid", "rating": "stars", "timestamp": "ts"})
    assert (data.num_users, data.num_items, len(data)) == (2, 2, 3)
    assert list(data.user_ids) == ["a", "b"]
    assert data.ratings.tolist() == [5.0, 3.0, 4.0]
    assert data.timestamps.dtype == np.int64


def test_default_columns_picked_from_header(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("user_id\titem_id\trating\n1\t2\t4\n")
    data = read_interactions(path)
    assert data.ratings is not None and data.timestamps is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("user_id,item_id,rating\n1,2,5\n1,3,abc\n", "line 3: field 'rating' is not a number"),
        ("user_id,item_id,rating\n1,2,5\n,3,4\n", "line 3: field 'user' is empty"),
        ("user_id,rating\n1,5\n", "missing column(s) ['item_id']"),
        ("user_id,item_id,rating\n1,2,5\n1,3,4,9,9\n", "malformed row"),
    ],
)
def test_bad_csv_names_file_line_and_field(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError) as err:
        read_interactions(path, {"user": "user_id", "item": "item_id", "rating": "rating"})
    assert message in str(err.value)
    assert "bad.csv" in str(err.value)


def test_parquet(tmp_path):
    path = tmp_path / "log.parquet"
    pd.DataFrame({"u": [1, 2], "i": [3, 3], "t": [5, 6]}).to_parquet(path)
    data = read_interactions(path, {"user": "u", "item": "i", "timestamp": "t"})
    assert (data.num_users, data.num_items) == (2, 1)


def test_amazon_jsonl_and_bad_line(tmp_path):
    rows = [
        {"reviewerID": "A1", "asin": "B1", "overall": 5.0, "unixReviewTime": 100},
        {"reviewerID": "A2", "asin": "B1", "overall": 4.0, "unixReviewTime": 101},
    ]
    path = tmp_path / "reviews.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows) + "\n")
    data = read_amazon_reviews(path)
    assert (data.num_users, data.num_items) == (2, 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n{not json\n")
    with pytest.raises(ValueError, match="line 2: not valid JSON"):
        read_amazon_reviews(bad)
    bad.write_text(json.dumps({**rows[0], "overall": "five"}) + "\n")
    with pytest.raises(ValueError, match="line 1: field 'rating' is not a number"):
        read_amazon_reviews(bad)


def test_movielens_formats(tmp_path):
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    assert len(read_movielens_100k(tmp_path / "u.data")) == 2
    (tmp_path / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n")
    ml1m = read_movielens_1m(tmp_path / "ratings.dat")
    assert ml1m.timestamps.tolist() == [978300760, 978302109]
    (tmp_path / "r.csv").write_text("user_id,item_idx,rating\n1,1,5\n6,1,4\n")
    assert read_movielens_1m(tmp_path / "r.csv").num_users == 2
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
    assert read_movielens_latest(tmp_path / "ratings.csv").ratings.tolist() == [4.0]


def test_mmrec_and_recbole_inter(tmp_path):
    (tmp_path / "baby.inter").write_text("userID\titemID\trating\ttimestamp\tx_label\n0\t1\t5\t10\t0\n")
    assert len(read_mmrec_inter(tmp_path / "baby.inter")) == 1
    (tmp_path / "x.inter").write_text("user_id:token\titem_id:token\n0\t1\n1\t1\n")
    assert read_mmrec_inter(tmp_path / "x.inter").num_users == 2


@pytest.mark.data
def test_real_movielens_100k(shared_data):
    data = read_movielens_100k(shared_data / "ml-100k" / "u.data.gz")
    assert (len(data), data.num_users, data.num_items) == (100_000, 943, 1682)


@pytest.mark.parametrize(
    ("name", "sep"),
    [("log.dat", "\t"), ("log.txt.gz", "\t"), ("log.csv", ";"), ("ratings.dat", "::"), ("log.txt", "|")],
)
def test_separator_is_detected(tmp_path, name, sep):
    text = (
        sep.join(["userID", "itemID", "weight"])
        + "\n"
        + "\n".join(sep.join([f"u{i % 3}", f"i{i}", str(i)]) for i in range(5))
        + "\n"
    )
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    assert detect_sep(path) == sep
    data = read_interactions(path, {"user": "userID", "item": "itemID", "rating": "weight"})
    assert (data.num_users, data.num_items, len(data)) == (3, 5, 5)
    assert read_interactions(path, {"user": "userID", "item": "itemID"}, sep=sep).num_items == 5


def test_quoted_commas_do_not_hide_the_separator(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text('user_id,item_id,title\n1,2,"a, b"\n1,3,"c; d, e"\n')
    assert detect_sep(path) == ","
    assert read_interactions(path).num_items == 2


def test_wrong_separator_is_named(tmp_path):
    path = tmp_path / "log.dat"
    path.write_text("userID\titemID\n1\t2\n")
    with pytest.raises(ValueError, match=r"log\.dat: missing column.*separator ','.*'\\t'"):
        read_interactions(path, {"user": "userID", "item": "itemID"}, sep=",")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty\.csv: empty file"),
        (b"user_id,item_id\n1,2\n1,caf\xe9\n", r"empty\.csv, line 3: byte 0xe9"),
    ],
)
def test_empty_and_non_utf8_files(tmp_path, content, message):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_interactions(path, {"user": "user_id", "item": "item_id"})


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.csv: no such file"):
        read_interactions(tmp_path / "nowhere.csv")
