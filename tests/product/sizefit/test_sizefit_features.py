import numpy as np
import pandas as pd
import pytest
import torch

from product.sizefit.features import HISTORY, FitInputs, build_feature_space, encode_labels, encode_rows
from product.sizefit.records import to_frame


def records(rows: list[dict]) -> pd.DataFrame:
    base = {"line": 0, "category": "dress", "fit": "fit"}
    return to_frame([{**base, "line": i + 1, **row} for i, row in enumerate(rows)])


def test_size_ladders_follow_the_category_unless_on_another_scale():
    frame = records(
        [{"customer_id": "a", "product_id": "top", "size": s} for s in (4, 6, 8, 10, 8, 6)]
        + [{"customer_id": "b", "product_id": "jeans", "size": s} for s in (26, 27, 28, 29)]
    )
    space = build_feature_space(frame)
    top, jeans = space.product_index["top"], space.product_index["jeans"]
    assert space.product_step[top] == 2 and space.product_step[jeans] == 1
    assert space.product_centre[jeans] == pytest.approx(27.5)  # its own median: another scale
    assert space.product_centre[top] == space.category_centre[space.product_category[top]]


def test_own_purchase_is_left_out_of_what_a_store_record_reads():
    frame = records(
        [
            {"customer_id": "a", "product_id": "p", "size": 8, "fit": "small"},
            {"customer_id": "a", "product_id": "q", "size": 8, "fit": "fit"},
            {"customer_id": "b", "product_id": "p", "size": 10, "fit": "large"},
        ]
    )
    signals = np.eye(4, dtype=np.float32)[[0, 1, 2]]
    space = build_feature_space(frame, signals)
    x = encode_rows(space, frame, self_rows=np.arange(3))
    # Row 0 (customer a) reads only row 1 of a's history; row 2 (customer b) reads nothing.
    assert x.hist_mask.sum(1).tolist() == [1, 1, 0]
    assert x.hist_label[0, x.hist_mask[0]].tolist() == [1]
    # Product p's sums seen from row 0 hold row 2 only: 1 purchase, 0 small, 1 large.
    assert x.product_dense[0, :3].tolist() == pytest.approx([np.log(2), 0.0, 1.0])
    # A new record reads everything.
    fresh = encode_rows(space, frame.iloc[[0]])
    assert fresh.hist_mask.sum().item() == 2 and fresh.product_dense[0, 0].item() == pytest.approx(np.log(3))


def test_shapes_and_unknowns(shop):
    frame = shop.frame.iloc[:300]
    space = build_feature_space(frame, np.zeros((300, 4), np.float32))
    new = frame.iloc[:5].assign(customer_id="nobody", product_id="new", category="unheard of")
    x = encode_rows(space, new)
    assert isinstance(x, FitInputs) and len(x) == 5
    assert x.customer.tolist() == [0] * 5 and x.product.tolist() == [0] * 5 and x.category.tolist() == [0] * 5
    assert x.hist_product.shape == (5, HISTORY) and x.hist_review.shape == (5, HISTORY, 4)
    assert x.profile.shape == (5, 16) and not x.hist_mask.any()
    assert torch.isfinite(x.step).all() and torch.isfinite(x.profile).all()
    assert x.select(torch.tensor([0, 2])).profile.shape == (2, 16)


def test_state_round_trip(shop):
    space = build_feature_space(shop.frame.iloc[:200])
    again = type(space).from_state(space.to_state())
    assert again.customers == space.customers
    np.testing.assert_array_equal(again.customer_history, space.customer_history)


def test_labels_must_be_known():
    with pytest.raises(ValueError, match="'tight'"):
        encode_labels(pd.DataFrame({"fit": ["fit", "tight"]}))
