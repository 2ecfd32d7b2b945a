"""How well a simulator predicts what real users chose: accuracy, calibration, position bias, speed."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from simulators.users.exposures import Exposure
from simulators.users.simulators import UserSimulator


def evaluate_simulator(simulator: UserSimulator, exposures: Sequence[Exposure]) -> dict[str, object]:
    """Metrics of one simulator on exposure lists (all of one length n).

    - ``accuracy``: share of lists where the most probable option is the real choice (ties broken
      by the first position, as an argmax reader would).
    - ``sampled_accuracy``: mean probability on the real choice (the accuracy of sampling).
    - ``position_rates``: share of argmax choices per position; ``target_rates`` the same for the
      real choices (uniform by construction), so the gap per position is the position bias.
    - ``decisions_per_s``: exposures decided per second, one process.
    """
    targets = np.array([e.target for e in exposures])
    start = time.perf_counter()
    probabilities = simulator.choice_probabilities(exposures)  # (B, n)
    seconds = time.perf_counter() - start
    n = probabilities.shape[1]
    picks = probabilities.argmax(axis=1)
    rows = np.arange(len(exposures))
    position_rates = np.bincount(picks, minlength=n) / len(exposures)
    target_rates = np.bincount(targets, minlength=n) / len(exposures)
    return {
        "accuracy": float((picks == targets).mean()),
        "sampled_accuracy": float(probabilities[rows, targets].mean()),
        "position_rates": [round(float(x), 4) for x in position_rates],
        "target_rates": [round(float(x), 4) for x in target_rates],
        "max_position_gap": float(np.abs(position_rates - target_rates).max()),
        "decisions_per_s": len(exposures) / max(seconds, 1e-9),
        "lists": len(exposures),
        "n": n,
    }
