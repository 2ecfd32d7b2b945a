"""Choice entropy, the most-uncertain selection and its report."""

from __future__ import annotations

import math

import pytest
import torch
from datasets import Dataset

from simulators.alignment.filtering import choice_entropy, keep_uncertain, most_uncertain


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


def test_keep_uncertain_selects_rows_and_reports_what_it_did():
    pairs = Dataset.from_dict({"prompt": list("abcd"), "chosen": list("CCCC"), "rejected": list("RRRR")})
    chosen, rejected = torch.tensor([-1.0, -5.0, -2.0, -9.0]), torch.tensor([-1.2, -1.0, -8.0, -9.5])
    kept, report = keep_uncertain(pairs, (chosen, rejected), 0.5)
    assert kept["prompt"] == ["a", "d"]  # margins 0.2 and 0.5, the closest calls; b (−4) and c (6) are clear
    entropy = choice_entropy(chosen, rejected)
    assert report == pytest.approx(
        {
            "kept": 2,
            "of": 4,
            "entropy_all": float(entropy.mean()),
            "entropy_kept": float((entropy[0] + entropy[3]) / 2),
            "base_accuracy_all": 0.75,
            "base_accuracy_kept": 1.0,
        }
    )
    with pytest.raises(ValueError, match="3/3 values for 4 pairs"):
        keep_uncertain(pairs, (chosen[:3], rejected[:3]), 0.5)
