"""Ratings of chosen items: the log baselines, MAE, and the LM's rating read from digit likelihoods."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.data import Interactions
from simulators.users import Exposure
from simulators.users.lm import LMUser
from simulators.users.ratings import (
    baseline_ratings,
    lm_expected_ratings,
    lm_rating_distributions,
    lm_reason,
    rating_mae,
)

TEXTS = {"1": "Heat (1995)", "2": "Babe (1995)", "3": "Fargo (1996)"}


def log() -> Interactions:
    # user 0 rates items 0, 1 with 5, 3; user 1 rates item 0 with 4; item 2 and user 2 unrated
    return Interactions(
        users=np.array([0, 0, 1]),
        items=np.array([0, 1, 0]),
        num_users=3,
        num_items=3,
        ratings=np.array([5.0, 3.0, 4.0], dtype=np.float32),
    )


def test_baselines_by_hand():
    got = baseline_ratings(log(), np.array([0, 1, 2]), np.array([1, 0, 2]), damping=1.0)
    mu = 4.0
    assert np.allclose(got["global mean"], mu)
    assert np.allclose(got["user mean"], [4.0, 4.0, mu])  # user 2 unrated: the global mean
    assert np.allclose(got["item mean"], [3.0, 4.5, mu])  # item 2 unrated: the global mean
    b_item = np.array([(1 + 0) / (2 + 1), -1 / (1 + 1), 0.0])  # residuals (5-4, 4-4) and (3-4)
    residual_0 = [5 - mu - b_item[0], 3 - mu - b_item[1]]
    b_user = np.array([sum(residual_0) / 3, (4 - mu - b_item[0]) / 2, 0.0])
    expected = mu + b_user[[0, 1, 2]] + b_item[[1, 0, 2]]
    assert np.allclose(got["user + item bias"], expected)


def test_mae_and_refusals():
    assert rating_mae(np.array([4.0, 2.0]), np.array([5.0, 2.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shapes"):
        rating_mae(np.array([1.0]), np.array([1.0, 2.0]))
    implicit = Interactions(users=np.array([0]), items=np.array([0]), num_users=1, num_items=1)
    with pytest.raises(ValueError, match="no ratings"):
        baseline_ratings(implicit, np.array([0]), np.array([0]))


def test_lm_rating_is_the_expectation_over_the_digit_probabilities(model, tokenizer):
    user = LMUser(model, tokenizer, TEXTS, personas={"u1": "a 24 year old technician"}, list_in_prompt=False)
    e = Exposure(user="u1", history=(("1", 5.0), ("2", 3.0)), options=("3", "2"), target=0)
    p = lm_rating_distributions(user, [e, e], ["3", "2"])
    assert p.shape == (2, 5) and np.allclose(p.sum(1), 1) and not np.allclose(p[0], p[1])
    head, _ = user.parts(e)
    ids = tokenizer(head + "Now you chose: Fargo (1996) (rated")["input_ids"]
    with torch.no_grad():
        full = torch.softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].float(), -1)
    digits = [tokenizer(f" {d}", add_special_tokens=False)["input_ids"] for d in range(1, 6)]
    plain = [tokenizer(f"{d}", add_special_tokens=False)["input_ids"] for d in range(1, 6)]
    mass = np.array(
        [
            sum(float(full[t[0]]) for t in {tuple(a), tuple(b)} if len(t) == 1)
            for a, b in zip(digits, plain, strict=True)
        ]
    )
    assert np.allclose(p[0], mass / mass.sum(), atol=1e-5)
    expected = lm_expected_ratings(user, [e], ["3"])
    assert expected[0] == pytest.approx(float(p[0] @ np.arange(1, 6)), abs=1e-6) and 1 <= expected[0] <= 5
    with pytest.raises(ValueError, match="expected equal"):
        lm_rating_distributions(user, [e], ["3", "2"])


def test_reason_is_generated_on_request(model, tokenizer):
    user = LMUser(model, tokenizer, TEXTS, list_in_prompt=False)
    e = Exposure(user="u1", history=(("1", 5.0),), options=("3", "2"), target=0)
    text = lm_reason(user, e, "3", max_new_tokens=8)
    assert isinstance(text, str) and text.startswith("Because")
