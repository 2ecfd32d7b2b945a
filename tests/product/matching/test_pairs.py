"""Pairs files: repeats counted once, every error naming file and line, ProMap-style pair rows."""

import gzip

import numpy as np
import pandas as pd
import pytest

from product.matching.listing import listings_from_frame
from product.matching.pairs import check_labels, read_pair_rows, read_pairs, union_catalogs

LEFT = listings_from_frame(pd.DataFrame({"id": ["a", "b"], "title": ["sony tv", "bose speaker"]}))
RIGHT = listings_from_frame(pd.DataFrame({"id": ["x", "y"], "title": ["sony kdl tv", "jbl speaker"]}))


def test_repeated_pairs_count_once(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("ltable_id,rtable_id,label\na,x,1\nb,y,0\n\na,x,1\nb , x,1.0\n")
    pairs = read_pairs(path, LEFT, RIGHT)
    assert pairs.to_dict("list") == {
        "left_id": ["a", "b", "b"],
        "right_id": ["x", "y", "x"],
        "label": [1, 0, 1],
    }
    assert pairs["label"].dtype == np.int64


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"pairs\.csv: empty file; expected a header"),
        (b"left_id,right_id,label\n", r"pairs\.csv: no pairs after the header"),
        (b"left_id,label\na,1\n", r"pairs\.csv:1: missing column\(s\) \['right_id'\]"),
        (b"left_id,right_id,label\na,x,1\n,y,0\n", r"pairs\.csv:3: field 'left_id' is empty"),
        (b"left_id,right_id,label\na,x,yes\n", r"pairs\.csv:2: field 'label': 'yes' is not 0 or 1"),
        (b"left_id,right_id,label\na,x\n", r"pairs\.csv:2: field 'label': '' is not 0 or 1"),
        (
            b"left_id,right_id,label\na,x,1\nb,y,0\na,x,0\n",
            r"pairs\.csv:4: pair \('a', 'x'\) has label 0, but line 2",
        ),
        (b"left_id,right_id,label\na,x,1\nb,caf\xe9,0\n", r"pairs\.csv:3: byte 0xe9 is not UTF-8"),
        (
            b"left_id,right_id,label\na,x,1\nb,zz,0\nq,y,0\n",
            r"pairs\.csv:3: field 'right_id': 'zz' is not in the right",
        ),
        (
            b"left_id,right_id,label\na,x,1\nq,y,0\nr,y,0\n",
            r"pairs\.csv:3: field 'left_id': 'q' .*\(2 unknown ids in all",
        ),
    ],
)
def test_bad_pairs_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "pairs.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_pairs(path, LEFT, RIGHT)


def test_missing_and_non_utf8_gzipped_pairs(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.csv: no such file"):
        read_pairs(tmp_path / "nowhere.csv")
    path = tmp_path / "pairs.csv.gz"
    path.write_bytes(gzip.compress(b"left_id,right_id,label\n\xff,x,1\n"))
    with pytest.raises(ValueError, match=r"pairs\.csv\.gz:2: byte 0xff"):
        read_pairs(path)
    path.write_bytes(b"left_id,right_id,label\n")  # named .gz, but not gzip data
    with pytest.raises(ValueError, match=r"pairs\.csv\.gz: not a gzip file"):
        read_pairs(path)


PAIR_ROWS = (
    "id1,name1,short_description1,long_description1,price1,image1,image_url1,"
    "id2,name2,short_description2,long_description2,price2,image2,image_url2,match,category,match_type\n"
    'p1,Sony TV 40,big,"sharp, bright",499.0,1,"[""u1.jpg""]",q1,Sony KDL-40,nan,,nan,0,,1,tv,match\n'
    "p1,Sony TV 40,ignored,,1,1,,q2,Sony KDL-43,,,450,0,,0,tv,close_nonmatch\n"
    "p2,Bose S1,,,99,0,,q2,Sony KDL-43,,,450,0,,0,audio,medium_nonmatch\n"
    "p2,Bose S1,,,99,0,,q2,Sony KDL-43,,,450,0,,0,audio,medium_nonmatch\n"
)


def test_promap_style_pair_rows(tmp_path):
    path = tmp_path / "promap.csv"
    path.write_text(PAIR_ROWS)
    left, right, pairs = read_pair_rows(path)
    assert left["id"].tolist() == ["p1", "p2"] and right["id"].tolist() == ["q1", "q2"]
    assert left["description"].tolist() == ["big sharp, bright", ""]  # first row of a product wins
    assert left["image"].tolist() == ["u1.jpg", ""]  # image_url, not ProMap's image count
    assert left["category"].tolist() == ["tv", "audio"] and right["category"].tolist() == ["tv", "tv"]
    assert np.isnan(right["price"].iat[0]) and right["price"].iat[1] == 450.0  # "nan" is missing
    assert pairs.to_dict("list") == {
        "left_id": ["p1", "p1", "p2"],
        "right_id": ["q1", "q2", "q2"],
        "label": [1, 0, 0],
        "match_type": ["match", "close_nonmatch", "medium_nonmatch"],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name1,name2,match\na,b,1\n", r"promap\.csv:1: .*needs columns id1, id2 and match"),
        ("id1,name1,id2,name2,label\n1,a,2,b,1\n,a,3,c,0\n", r"promap\.csv:3: field 'id1' is empty"),
        ("id1,name1,id2,name2,match\n1,a,2,b,2\n", r"promap\.csv:2: field 'match': '2' is not 0 or 1"),
        ("id1,id2,match\n1,2,1\n", r"promap\.csv: no title column"),
        ("id1,name1,id2,name2,match\n1,a,2,b,1\n3,c\n", r"promap\.csv:3: field 'id2' is empty"),
    ],
)
def test_bad_pair_rows(tmp_path, content, message):
    path = tmp_path / "promap.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_pair_rows(path)


def test_union_catalogs_and_check_labels():
    more = listings_from_frame(pd.DataFrame({"id": ["b", "c"], "title": ["other b", "c"]}))
    union = union_catalogs(LEFT, more)
    assert union["id"].tolist() == ["a", "b", "c"] and union["title"].iat[1] == "bose speaker"
    check_labels(np.array([0, 1, 1]), "train.csv")
    with pytest.raises(ValueError, match=r"train\.csv: needs both matches .* only label \[0\]"):
        check_labels(pd.Series([0, 0]), "train.csv")
