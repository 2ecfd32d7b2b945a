import gzip
import json
import math

import pandas as pd
import pytest

from product.matching.listing import (
    LISTING_COLUMNS,
    listing_text,
    listings_from_frame,
    load_listings,
    parse_price,
    parse_specifications,
)


def test_csv_with_aliases_extras_and_missing_fields(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text(
        "id,name,manufacturer,price,modelno\n"
        "a1,Sony Turntable PS-LX350H,Sony,$1,\n"
        'a2,Bose speaker,,"1,299.00",AM53BK\n'
    )
    listings = load_listings(path, shop="abt")
    assert list(listings.columns) == list(LISTING_COLUMNS)
    assert listings["title"].tolist() == ["Sony Turntable PS-LX350H", "Bose speaker"]
    assert listings["brand"].tolist() == ["Sony", ""]
    assert listings["price"].tolist() == [1.0, 1299.0]
    assert listings["specifications"].tolist() == [{}, {"modelno": "AM53BK"}]
    assert set(listings["shop"]) == {"abt"}
    assert listings["description"].tolist() == ["", ""]


def test_jsonl_gz_with_promap_specifications_and_image_list(tmp_path):
    path = tmp_path / "shop.jsonl.gz"
    records = [
        {
            "id": 7,
            "title": "Lysol wipes",
            "specification": [{"key": "Brand", "value": "Lysol"}],
            "image_url": ["http://x/1.jpg", "http://x/2.jpg"],
            "price": 16.99,
        },
        {"title": "No id here"},
    ]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in records) + "\n\n")
    listings = load_listings(path)
    assert listings["id"].tolist() == ["7", "1"]  # a missing id becomes the record number
    assert listings["specifications"].iat[0] == {"Brand": "Lysol"}
    assert listings["image"].tolist() == ["http://x/1.jpg", ""]
    assert math.isnan(listings["price"].iat[1])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,title,price\n1,ok,3\n2,bad,n/a\n", r"shop\.csv:3: field 'price'"),
        ("id,title\n1,a\n1,b\n", r"shop\.csv:3: field 'id': '1' repeats line 2"),
        ("id,title\n1,a,extra\n", r"shop\.csv:2: 3 fields, the header has 2"),
        ("id,title,specifications\n1,a,{not json}\n", r"shop\.csv:2: field 'specifications'"),
    ],
)
def test_malformed_csv_names_file_line_and_field(tmp_path, content, message):
    path = tmp_path / "shop.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_listings(path)


def test_malformed_jsonl_names_line(tmp_path):
    path = tmp_path / "shop.jsonl"
    path.write_text('{"id": 1, "title": "a"}\n{"id": 2, "title": \n')
    with pytest.raises(ValueError, match=r"shop\.jsonl:2: not valid JSON"):
        load_listings(path)
    path.write_text('{"id": 1, "title": ["a", "list"]}\n')
    with pytest.raises(ValueError, match=r"shop\.jsonl:1: field 'title'"):
        load_listings(path)


def test_csv_with_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("id,title\n1,Kettle\n".encode("utf-8-sig"))
    assert load_listings(path)["id"].tolist() == ["1"]


def test_unknown_format(tmp_path):
    path = tmp_path / "shop.xlsx"
    path.write_text("")
    with pytest.raises(ValueError, match="unknown catalog format"):
        load_listings(path)


@pytest.mark.parametrize(
    ("raw", "price"),
    [
        (12, 12.0),
        ("$ 29.99", 29.99),
        ("1,299.00", 1299.0),
        ("1 299,50 Kč", 1299.5),
        ("12,99", 12.99),
        ("1,299", 1299.0),
        ("10990.0", 10990.0),
    ],
)
def test_parse_price(raw, price):
    assert parse_price(raw) == pytest.approx(price)


def test_parse_specifications_forms():
    assert parse_specifications({"a": 1, "b": None}) == {"a": "1"}
    assert parse_specifications('[{"key": "k", "value": ["x", "y"]}]') == {"k": "x, y"}
    with pytest.raises(ValueError, match="'key' and 'value'"):
        parse_specifications([{"name": "k"}])


def test_frame_and_listing_text():
    frame = pd.DataFrame({"title": ["Kettle"], "brand": ["Bosch"], "colour": ["red"]})
    listings = listings_from_frame(frame, shop="s")
    assert listings["specifications"].iat[0] == {"colour": "red"}
    assert listing_text(listings.iloc[0]) == "Bosch Kettle colour red"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("shop.csv", b"", r"shop\.csv: no listings \(the file is empty or has only a header\)"),
        ("shop.csv", b"id,title,price\n", r"shop\.csv: no listings"),
        ("shop.jsonl", b"\n", r"shop\.jsonl: no listings"),
        (
            "shop.csv",
            b"id,label,price\n1,TV,3\n",
            r"shop\.csv: no title column .*found \['id', 'label', 'price'\]",
        ),
        (
            "shop.csv",
            b"id,name\n1,\n2,\n",
            r"shop\.csv: column 'name' \(the title\) is empty in every listing",
        ),
        ("shop.csv", b"id,title\n1,TV\n2,caf\xe9\n", r"shop\.csv:3: byte 0xe9 is not UTF-8"),
        (
            "shop.jsonl.gz",
            gzip.compress(b'{"title": "a"}\n{"title": "\xe9"}\n'),
            r"shop\.jsonl\.gz:2: byte 0xe9",
        ),
    ],
)
def test_unusable_catalogs_are_refused_by_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_listings(path)


def test_missing_catalog(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"shop\.csv: no such file"):
        load_listings(tmp_path / "shop.csv")
