"""Choice entropy and the most-uncertain selection."""

from __future__ import annotations

import math

import pytest
import torch

from simulators.alignment.filtering import choice_entropy, most_uncertain


def test_choice_entropy_matches_the_binary_entropy():
    chosen, rejected = torch.tensor([-3.0, -1.0, -10.0]), torch.tensor([-3.0, -2.0, -1.0])
    p = 1 / (1 + math.exp(-1.0))
    expected = [math.log(2), -(p * math.log(p) + (1 - p) * math.log(1 - p))]
    got = choice_entropy(chosen, rejected)
    assert got[:2].tolist() == pytest.approx(expected, rel=1e-6)
    assert 0 < got[2] < 2e-3  # a confident choice (margin −9) has almost no entropy


def test_most_uncertain_keeps_the_highest_entropy_share():
    entropy = torch.tensor([0.1, 0.6, 0.3, 0.69, 0.0])
    assert most_uncertain(entropy, 0.4).tolist() == [1, 3]
    assert most_uncertain(entropy, 0.01).tolist() == [3]
    with pytest.raises(ValueError, match="fraction"):
        most_uncertain(entropy, 0.0)
