"""Rotations of exposure lists and the position-bias test built on them."""

from __future__ import annotations

import numpy as np

from simulators.users.evaluate import position_bias, rotations
from simulators.users.exposures import Exposure


def lists() -> list[Exposure]:
    return [
        Exposure("u1", (("a", 4.0),), ("b", "c", "d"), 1),
        Exposure("u2", (), ("e", "f", "g"), 2),
    ]


def test_each_option_visits_every_position_with_its_target():
    rotated = rotations(lists())
    assert len(rotated) == 6
    for e in rotated:
        assert e.options[e.target] == ("c" if e.user == "u1" else "g")
    first = [e.options for e in rotated if e.user == "u1"]
    for position in range(3):
        assert sorted(o[position] for o in first) == ["b", "c", "d"]


class ByItem:
    """Order-invariant: prefers the alphabetically last option wherever it is shown."""

    name = "by item"

    def choice_probabilities(self, exposures):
        rows = [[ord(o) for o in e.options] for e in exposures]
        return np.array(rows, dtype=float) / np.sum(rows, axis=1, keepdims=True)


class FirstShown:
    name = "first shown"

    def choice_probabilities(self, exposures):
        out = np.full((len(exposures), 3), 0.1)
        out[:, 0] = 0.8
        return out


def test_an_order_invariant_simulator_has_no_bias_and_a_first_position_one_has_all():
    fair = position_bias(ByItem(), lists())
    assert fair["rotation_rates"] == [0.3333] * 3 and fair["rotation_max_gap"] == 0.0
    assert fair["rotation_accuracy"] == 0.5  # "d" is u1's pick, not the real "c"; "g" is u2's
    biased = position_bias(FirstShown(), lists())
    assert biased["rotation_rates"] == [1.0, 0.0, 0.0]
    assert biased["rotation_max_gap"] == round(2 / 3, 4) and biased["rotation_accuracy"] == round(1 / 3, 4)
