import numpy as np
import pytest

from product.encoders.features import ItemFeatures, load_features, save_features


def make_features():
    vectors = {"text": np.array([[1, 0], [0, 0], [0, 1]], dtype=np.float32)}
    masks = {"text": np.array([True, False, True])}
    return ItemFeatures(["a", "b", "c"], vectors, masks, {"text": {"empty": 1}})


def test_report_counts_missing():
    report = make_features().report()["text"]
    assert report["missing"] == 1 and report["missing_rate"] == pytest.approx(1 / 3)
    assert report["reasons"] == {"empty": 1}


def test_save_load_round_trip(tmp_path):
    save_features(make_features(), tmp_path)
    loaded = load_features(tmp_path)
    assert loaded.item_ids == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.masks["text"], [True, False, True])
    assert (tmp_path / "report.json").exists()


def test_mmrec_folder_without_masks(tmp_path):
    np.save(tmp_path / "image_feat.npy", np.array([[0.0, 0.0], [1.0, 2.0]]))
    loaded = load_features(tmp_path)
    assert loaded.item_ids == ["0", "1"]
    assert loaded.masks["image"].tolist() == [False, True]


def test_reorder_and_bad_input(tmp_path):
    reordered = make_features().reorder(["c", "a"])
    np.testing.assert_array_equal(reordered.vectors["text"], [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="no features"):
        make_features().reorder(["zzz"])
    np.save(tmp_path / "text_feat.npy", np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="row 0 holds NaN"):
        load_features(tmp_path)
