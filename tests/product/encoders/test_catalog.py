import gzip
import json

import pytest

from product.encoders.catalog import read_catalog, read_unisrec_text


def test_read_csv_catalog(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text(
        "item_id,title,description,categories,brand,price,image,specs\n"
        "a,Glue,Strong glue,Tools|Adhesives,Gorilla,7.5,img/a.jpg,size=8 oz;colour=brown\n"
        "b,,,,,,,\n"
    )
    products = read_catalog(path)
    assert [p.item_id for p in products] == ["a", "b"]
    a, b = products
    assert a.categories == ["Tools", "Adhesives"] and a.price == 7.5
    assert a.specs == {"size": "8 oz", "colour": "brown"}
    assert a.image == str(tmp_path / "img" / "a.jpg")
    assert a.text() == "Glue. Strong glue"
    assert b.text() is None and b.price is None and b.image is None


def test_read_jsonl_gz_catalog(tmp_path):
    path = tmp_path / "catalog.jsonl.gz"
    rows = [{"item_id": "x", "title": "Beaker", "categories": ["Lab"], "specs": {"ml": 250}}]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows) + "\n")
    (product,) = read_catalog(path)
    assert product.specs == {"ml": "250"} and product.categories == ["Lab"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("item_id,price\na,cheap\n", "line 2: field 'price'"),
        ("item_id,title\na,x\na,y\n", "line 3: field 'item_id' repeats"),
        ("title\nx\n", "no 'item_id'"),
        ("item_id,title\n,x\n", "line 2: field 'item_id'"),
        ("item_id,specs\na,novalue\n", "line 2: field 'specs'"),
    ],
)
def test_bad_csv_names_line_and_field(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_catalog(path)


def test_bad_jsonl_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"item_id": "a"}\n{not json\n')
    with pytest.raises(ValueError, match="line 2: invalid JSON"):
        read_catalog(path)


def test_unisrec_text(tmp_path):
    path = tmp_path / "x.text"
    path.write_text("item_id:token\ttext:token_seq\nB01\tGlue. Tools. Gorilla.\nB02\t\n")
    products = read_unisrec_text(path)
    assert products[0].text() == "Glue. Tools. Gorilla." and products[1].text() is None
