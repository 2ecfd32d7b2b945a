import numpy as np
import pytest

from product.sizefit import reviews
from product.sizefit.features import FIT_INDEX
from product.sizefit.reviews import embed_reviews, review_fit_signals, split_sentences


def test_split_sentences():
    assert split_sentences("Runs small! Love it.\nWould rent again") == [
        "Runs small!",
        "Love it.",
        "Would rent again",
    ]
    assert split_sentences("  ") == []


def test_reviews_embed_as_unit_means_of_unique_sentences(fake_encoder, monkeypatch):
    seen = []
    encode = reviews.encode_texts
    monkeypatch.setattr(
        reviews, "encode_texts", lambda texts, **kw: seen.append(list(texts)) or encode(texts)
    )
    vectors, has = embed_reviews(["Runs small. Love it.", "Love it.", ""], ["Size up", "", ""])
    assert seen == [sorted({"Runs small.", "Love it.", "Size up"})]  # each sentence embedded once
    assert vectors.shape == (3, 384) and has.tolist() == [True, True, False]
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1) and not vectors[2].any()


def test_signals_read_the_fit_from_text_and_are_cross_fitted(shop, fake_encoder):
    frame = shop.frame
    vectors, has = reviews.embed_frame_reviews(frame)
    labels = frame["fit"].map(FIT_INDEX).to_numpy()
    signals = review_fit_signals(vectors, has, labels)
    assert signals.shape == (len(frame), 4) and not signals[~has].any()
    assert np.allclose(signals[has, :3].sum(1), 1, atol=1e-5)
    true_fit = shop.truth.true_fit
    # What the text says follows the true outcome, even where the label said "fit".
    reported_fit = has & (labels == 1)
    small, fit = reported_fit & (true_fit == "small"), reported_fit & (true_fit == "fit")
    assert signals[small, 0].mean() > 2 * signals[fit, 0].mean()
    assert signals[small, 3].mean() < signals[fit, 3].mean()  # ordinal score: felt smaller


@pytest.mark.parametrize("count", [0, 3])
def test_too_few_reviews_give_no_signal(count):
    vectors = np.ones((10, 384), np.float32)
    has = np.arange(10) < count
    assert not review_fit_signals(vectors, has, np.zeros(10, int)).any()
