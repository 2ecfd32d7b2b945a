import json

import numpy as np
import pandas as pd
import pytest
from matching_stubs import fake_embeddings

from product.matching.context import CONTEXT_COLUMNS
from product.matching.features import encode_catalogs, pair_features
from product.matching.listing import listings_from_frame
from product.matching.matcher import (
    Matcher,
    MatcherConfig,
    assign_one_to_one,
    best_f1_threshold,
    precision_recall_f1,
)
from product.matching.synthetic import label_pairs

CONFIG = MatcherConfig(k=5, num_boost_round=40, threads=1)


def _labelled(matcher, catalogs):
    enc = encode_catalogs(catalogs.left, catalogs.right, fake_embeddings(catalogs), matcher.config.k)
    pairs = label_pairs(matcher.candidates(enc), catalogs.matches)
    return enc, pairs, matcher.features(enc, pairs)


@pytest.fixture(scope="module")
def trained(shops):
    matcher = Matcher(CONFIG)
    _, pairs, x = _labelled(matcher, shops)
    return matcher.fit_features(x, pairs["label"].to_numpy())


def test_precision_recall_f1_and_threshold():
    labels = np.array([1, 1, 0, 0, 1])
    assert precision_recall_f1(labels, np.array([1, 0, 1, 0, 1])) == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3}
    )
    assert best_f1_threshold(labels, np.array([0.9, 0.8, 0.3, 0.1, 0.7])) == pytest.approx(0.7)


def test_one_to_one_is_greedy_by_score():
    left = np.array([0, 0, 1, 1])
    right = np.array([0, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.85, 0.3])
    np.testing.assert_array_equal(assign_one_to_one(left, right, scores), [True, False, False, True])


def test_matcher_learns_planted_matches_on_unseen_shops(trained, other_shops):
    enc, pairs, x = _labelled(trained, other_shops)
    predicted = trained.score_features(x) >= trained.threshold
    assert precision_recall_f1(pairs["label"].to_numpy(), predicted)["f1"] > 0.85
    assert 0 < trained.threshold < 1


def test_validation_threshold_and_bad_labels(shops, other_shops):
    matcher = Matcher(CONFIG)
    _, pairs, x = _labelled(matcher, shops)
    _, valid, x_valid = _labelled(matcher, other_shops)
    matcher.fit_features(x, pairs["label"].to_numpy(), x_valid, valid["label"].to_numpy())
    assert matcher.threshold == best_f1_threshold(valid["label"].to_numpy(), matcher.score_features(x_valid))
    with pytest.raises(ValueError, match="both matches"):
        Matcher(CONFIG).fit_features(x, np.zeros(len(x)))


def test_predict_pairs_blocks_assigns_and_explains(trained, other_shops):
    enc = encode_catalogs(other_shops.left, other_shops.right, fake_embeddings(other_shops), trained.config.k)
    result = trained.predict_pairs(other_shops.left, other_shops.right, one_to_one=True, explain=2, enc=enc)
    assert list(result.columns) == ["left_id", "right_id", "score", "match", "why"]
    assert result["score"].is_monotonic_decreasing
    matched = result[result["match"]]
    assert not matched["left_id"].duplicated().any() and not matched["right_id"].duplicated().any()
    assert all(why.count("=") == 2 for why in result["why"])
    # a rejected pair is explained by features that pushed it down
    rejected = result[~result["match"]].iloc[0]["why"]
    assert "(-" in rejected.split(";")[0]

    chosen = result.head(3)[["right_id", "left_id"]]
    scored = trained.predict_pairs(other_shops.left, other_shops.right, chosen, enc=enc)
    assert set(scored["left_id"]) == set(chosen["left_id"])
    with pytest.raises(ValueError, match="ids not in the catalog"):
        trained.predict_pairs(
            other_shops.left,
            other_shops.right,
            pd.DataFrame({"left_id": ["nope"], "right_id": ["x"]}),
            enc=enc,
        )


def test_save_load_round_trip_is_atomic_and_exact(trained, other_shops, tmp_path):
    path = trained.save(tmp_path / "models" / "matcher.json")
    assert [p.name for p in path.parent.iterdir()] == ["matcher.json"]  # no temporary file left
    loaded = Matcher.load(path)
    assert loaded.config == trained.config and loaded.threshold == trained.threshold
    _, _, x = _labelled(loaded, other_shops)
    np.testing.assert_allclose(loaded.score_features(x), trained.score_features(x))
    with pytest.raises(ValueError, match="feature columns differ"):
        loaded.score_features(x.drop(columns=["price_ratio"]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fields": ("text",)}, "title"),
        ({"k": 1}, "at least 2"),
        ({"score_context": "maybe"}, "score_context"),
        ({"context_folds": 1}, "context_folds"),
        ({"text_precision": "fp16"}, "text_precision"),
    ],
)
def test_config_is_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        MatcherConfig(**changes)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="field 'format'"):
        Matcher.load(path)
    path.write_text("{broken")
    with pytest.raises(ValueError, match="not a matcher file"):
        Matcher.load(path)
    with pytest.raises(ValueError, match="not trained"):
        Matcher().save(tmp_path / "y.json")


@pytest.mark.slow  # loads EfficientNet-Lite0 and MiniLM (about a minute on a busy 2-core machine)
def test_image_similarity_from_local_files(tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    from PIL import Image

    for name, colour in (
        ("red.png", (220, 20, 20)),
        ("red2.png", (225, 25, 20)),
        ("blue.png", (20, 20, 220)),
    ):
        Image.new("RGB", (64, 64), colour).save(tmp_path / name)
    left = listings_from_frame(
        pd.DataFrame({"title": ["red kettle", "blue kettle"], "image": [str(tmp_path / "red.png"), ""]})
    )
    right = listings_from_frame(
        pd.DataFrame(
            {
                "title": ["kettle red", "kettle blue", "kettle"],
                "image": [
                    str(tmp_path / "red2.png"),
                    str(tmp_path / "blue.png"),
                    "https://example.com/x.jpg",
                ],
            }
        )
    )
    enc = Matcher(MatcherConfig(images=True, k=2)).encode(left, right)
    image_cos = pair_features(enc, np.array([0, 0, 0, 1]), np.array([0, 1, 2, 0]))["image_cos"].to_numpy()
    assert image_cos[0] > image_cos[1]  # the near-identical picture is closer
    assert np.isnan(image_cos[2]) and np.isnan(image_cos[3])  # remote URL / no image: no evidence


def test_score_context_stage_trains_scores_and_round_trips(shops, other_shops, tmp_path):
    matcher = Matcher(MatcherConfig(k=5, num_boost_round=40, score_context="on", context_folds=3))
    enc, pairs, _ = _labelled(matcher, shops)
    matcher.fit_encoded(enc, pairs)
    assert len(matcher.fold_boosters) == 3 and matcher.feature_names[-5:] == list(CONTEXT_COLUMNS)
    other_enc, other_pairs, _ = _labelled(matcher, other_shops)
    left_idx, right_idx = matcher.pair_rows(other_enc, other_pairs)
    scores, x = matcher.score_pairs(other_enc, left_idx, right_idx)
    assert list(x.columns) == matcher.feature_names and len(scores) == len(other_pairs)
    assert precision_recall_f1(other_pairs["label"].to_numpy(), scores >= matcher.threshold)["f1"] > 0.85
    # a pair's context comes from all candidates, so scoring a subset gives the same scores
    subset, _ = matcher.score_pairs(other_enc, left_idx[:7], right_idx[:7])
    np.testing.assert_allclose(subset, scores[:7])
    loaded = Matcher.load(matcher.save(tmp_path / "staged.json"))
    assert len(loaded.fold_boosters) == 3
    np.testing.assert_allclose(loaded.score_pairs(other_enc, left_idx, right_idx)[0], scores)


def test_score_context_is_kept_only_when_it_helps_on_valid(shops):
    matcher = Matcher(MatcherConfig(k=5, num_boost_round=40, score_context="valid", context_folds=3))
    enc, pairs, _ = _labelled(matcher, shops)
    valid = pairs.sample(frac=0.5, random_state=0)  # validation pairs come from the same catalogs
    matcher.fit_encoded(enc, pairs.drop(valid.index), valid)
    selection = matcher.selection
    assert set(selection) == {"single_stage_valid_f1", "score_context_valid_f1", "score_context"}
    assert selection["score_context"] == (
        selection["score_context_valid_f1"] > selection["single_stage_valid_f1"]
    )
    assert bool(matcher.fold_boosters) == selection["score_context"]
    assert ("stage1_score" in matcher.feature_names) == selection["score_context"]
    off = Matcher(MatcherConfig(k=5, num_boost_round=40, score_context="off")).fit_encoded(enc, pairs)
    assert not off.fold_boosters and "stage1_score" not in off.feature_names


def test_loads_single_stage_files_of_the_first_format(trained, other_shops, tmp_path):
    path = trained.save(tmp_path / "old.json")
    document = json.loads(path.read_text())
    document["format"] = "alignrec-matcher/1"
    for key in ("fold_boosters", "selection"):
        del document[key]
    del document["config"]["score_context"], document["config"]["context_folds"]
    path.write_text(json.dumps(document))
    loaded = Matcher.load(path)
    assert not loaded.fold_boosters
    _, _, x = _labelled(loaded, other_shops)
    np.testing.assert_allclose(loaded.score_features(x), trained.score_features(x))
