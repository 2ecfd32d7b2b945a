import itertools

import numpy as np
from sklearn.metrics import f1_score

from product.sizefit.calibration import fit_calibration, fit_decision_cuts


def ordinal_data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    noisy = 1.7 * z + rng.logistic(size=n)
    return z, np.where(noisy < -1.5, 0, np.where(noisy > 2.0, 2, 1))


def test_calibration_matches_observed_frequencies():
    z, y = ordinal_data()
    calibration = fit_calibration(z, y, cuts=(-0.5, 0.5))
    proba = calibration.proba(z)
    assert np.allclose(proba.sum(1), 1) and (proba >= 0).all()
    assert np.allclose(proba.mean(0), np.bincount(y) / len(y), atol=0.01)
    assert abs(calibration.scale - 1.7) < 0.25  # recovers the planted scale


def test_few_records_cannot_make_probabilities_extreme():
    calibration = fit_calibration(np.array([-1.0, 0.0, 1.0]), np.array([0, 1, 2]), cuts=(-0.5, 0.5))
    assert calibration.proba(np.array([0.0]))[0].min() > 0.01


def test_decision_cuts_are_macro_f1_best_on_the_grid():
    z, y = ordinal_data(600, seed=1)
    cuts = fit_decision_cuts(z, y, grid=15)
    best = f1_score(y, cuts.predict(z), average="macro")
    candidates = np.unique(np.quantile(z, np.linspace(0, 1, 15)))
    brute = max(
        f1_score(y, np.where(z < lo, 0, np.where(z > hi, 2, 1)), average="macro")
        for lo, hi in itertools.combinations_with_replacement(candidates, 2)
    )
    assert best == brute
