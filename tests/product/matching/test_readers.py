"""DeepMatcher and ProMap readers: tiny folders built here, plus the real sets when present."""

import pandas as pd
import pytest

from product.matching.deepmatcher import load_deepmatcher, read_pairs
from product.matching.promap import load_promap_features, load_promap_pairs


def _deepmatcher_folder(tmp_path, label="1"):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "tableA.csv").write_text("id,name,price\n0,sony tv kdl40,499\n1,bose speaker,\n")
    (folder / "tableB.csv").write_text("id,title,manufacturer\n0,sony kdl-40 tv,sony\n")
    for split in ("train", "valid", "test"):
        (folder / f"{split}.csv").write_text(f"ltable_id,rtable_id,label\n0,0,{label}\n1,0,0\n")
    return folder


def test_tiny_deepmatcher_folder(tmp_path):
    data = load_deepmatcher(_deepmatcher_folder(tmp_path))
    assert data.left["title"].tolist() == ["sony tv kdl40", "bose speaker"]
    assert data.right["brand"].tolist() == ["sony"]
    assert data.splits["test"].to_dict("list") == {
        "left_id": ["0", "1"],
        "right_id": ["0", "0"],
        "label": [1, 0],
    }


def test_bad_label_names_file_and_line(tmp_path):
    folder = _deepmatcher_folder(tmp_path, label="yes")
    with pytest.raises(ValueError, match=r"train\.csv:2: field 'label'"):
        read_pairs(folder / "train.csv")


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "sizes"), [("abt_buy", (1081, 1092, 5743)), ("walmart_amazon", (2554, 22074, 6144))]
)
def test_real_deepmatcher_sets(shared_data, name, sizes):
    data = load_deepmatcher(shared_data / "deepmatcher" / name)
    assert (len(data.left), len(data.right), len(data.splits["train"])) == sizes


@pytest.mark.data
@pytest.mark.parametrize("name", ["ProMapEn", "ProMapCz", "amazon-google", "amazon-walmart"])
def test_real_promap_sets(shared_data, name):
    train, test = load_promap_features(shared_data / "promap" / name)
    assert list(train.columns) == list(test.columns) and "match" in train
    pairs = load_promap_pairs(shared_data / "promap" / name)
    assert len(pairs.splits["test"]) == len(test)
    assert set(pairs.splits["test"]["left_id"]) == set(pairs.left["id"])
    assert pd.api.types.is_float_dtype(pairs.left["price"])
