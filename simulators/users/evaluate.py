"""How well a simulator predicts what real users chose: accuracy, calibration, position bias, speed."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from simulators.users.exposures import Exposure
from simulators.users.simulators import UserSimulator


def choice_metrics(probabilities: np.ndarray, targets: np.ndarray, seconds: float) -> dict[str, object]:
    """Metrics of (B, n) choice probabilities against the real choices' positions (B,).

    - ``accuracy``: share of lists where the most probable option is the real choice (ties broken
      by the first position, as an argmax reader would).
    - ``sampled_accuracy``: mean probability on the real choice (the accuracy of sampling).
    - ``position_rates``: share of argmax choices per position; ``target_rates`` the same for the
      real choices (uniform by construction), so the gap per position is the position bias.
    - ``decisions_per_s``: lists decided per second of ``seconds``.
    """
    n = probabilities.shape[1]
    picks = probabilities.argmax(axis=1)
    rows = np.arange(len(targets))
    position_rates = np.bincount(picks, minlength=n) / len(targets)
    target_rates = np.bincount(targets, minlength=n) / len(targets)
    return {
        "accuracy": float((picks == targets).mean()),
        "sampled_accuracy": float(probabilities[rows, targets].mean()),
        "position_rates": [round(float(x), 4) for x in position_rates],
        "target_rates": [round(float(x), 4) for x in target_rates],
        "max_position_gap": float(np.abs(position_rates - target_rates).max()),
        "max_uniform_gap": float(np.abs(position_rates - 1 / n).max()),
        "decisions_per_s": len(targets) / max(seconds, 1e-9),
        "lists": len(targets),
        "n": n,
    }


def rotations(exposures: Sequence[Exposure]) -> list[Exposure]:
    """Each list in all n cyclic orders of its options (the real choice moving with its item): over
    the rotations every option is shown once at every position, so the real choices' rates are
    exactly 1/n and whatever a simulator's choice rates add to 1/n is position bias, not which items
    the draw happened to put where."""
    out = []
    for e in exposures:
        n = len(e.options)
        for shift in range(n):
            options = e.options[shift:] + e.options[:shift]
            out.append(Exposure(e.user, e.history, options, (e.target - shift) % n))
    return out


def position_bias(simulator: UserSimulator, exposures: Sequence[Exposure]) -> dict[str, object]:
    """Per-position argmax choice rates over :func:`rotations` of ``exposures`` (target rate 1/n at
    every position), their largest gap to 1/n, and the accuracy over the rotations."""
    rotated = rotations(exposures)
    return rotation_metrics(timed_probabilities(simulator, rotated)[0], rotated)


def rotation_metrics(probabilities: np.ndarray, rotated: Sequence[Exposure]) -> dict[str, object]:
    """:func:`position_bias`'s figures from a simulator's (B * n, n) probabilities on ``rotated``."""
    n = probabilities.shape[1]
    picks = probabilities.argmax(axis=1)
    rates = np.bincount(picks, minlength=n) / len(picks)
    targets = np.array([e.target for e in rotated])
    return {
        "rotation_rates": [round(float(x), 4) for x in rates],
        "rotation_max_gap": round(float(np.abs(rates - 1 / n).max()), 4),
        "rotation_accuracy": round(float((picks == targets).mean()), 4),
        "rotation_lists": len(rotated) // n,
    }


def agreement(probabilities: np.ndarray, reference: np.ndarray) -> float:
    """Share of lists where two simulators' (B, n) probabilities have the same argmax."""
    return float((probabilities.argmax(axis=1) == reference.argmax(axis=1)).mean())


def timed_probabilities(simulator: UserSimulator, exposures: Sequence[Exposure]) -> tuple[np.ndarray, float]:
    """The simulator's (B, n) probabilities and the wall seconds they took."""
    start = time.perf_counter()
    probabilities = simulator.choice_probabilities(exposures)
    return probabilities, time.perf_counter() - start


def evaluate_simulator(simulator: UserSimulator, exposures: Sequence[Exposure]) -> dict[str, object]:
    """:func:`choice_metrics` of one simulator on exposure lists (all of one length n), one process."""
    probabilities, seconds = timed_probabilities(simulator, exposures)
    return choice_metrics(probabilities, np.array([e.target for e in exposures]), seconds)
