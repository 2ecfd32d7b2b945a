"""User-level ratio inference and the always-valid test, checked by A/A calibration on clustered data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulators.abtest.stats import (
    always_valid_p_values,
    bootstrap_difference_ci,
    compare_ratios,
    msprt_p_value,
    ratio_estimate,
)


def clustered_users(rng, n, lift=0.0):
    """Users whose own CTRs differ (Beta) and who see different numbers of items: row-level
    variance underestimates the truth here."""
    rate = rng.beta(2, 18, size=n) * (1 + lift)
    shown = rng.poisson(30, size=n) + 1
    return rng.binomial(shown, np.minimum(rate, 1)).astype(float), shown.astype(float)


def test_delta_method_matches_a_hand_computation_and_the_bootstrap():
    x, y = np.array([1.0, 0, 3, 2]), np.array([10.0, 5, 12, 9])
    r = x.sum() / y.sum()
    n, my = 4, y.mean()
    expected = (x.var(ddof=1) - 2 * r * np.cov(x, y)[0, 1] + r * r * y.var(ddof=1)) / (n * my * my)
    estimate = ratio_estimate(x, y)
    assert estimate.value == pytest.approx(r) and estimate.variance == pytest.approx(expected)
    rng = np.random.default_rng(1)
    control, treatment = clustered_users(rng, 400), clustered_users(rng, 380, lift=0.2)
    fixed = compare_ratios(ratio_estimate(*control), ratio_estimate(*treatment))
    low, high = bootstrap_difference_ci(control, treatment, resamples=4000, seed=2)
    assert low == pytest.approx(fixed.ci_low, abs=0.004) and high == pytest.approx(fixed.ci_high, abs=0.004)
    with pytest.raises(ValueError, match="at least 2 users"):
        ratio_estimate(np.array([1.0]), np.array([2.0]))


def test_aa_false_positive_rate_is_calibrated_and_row_level_is_not():
    rng = np.random.default_rng(2026)
    clicks, shown = clustered_users(rng, 600)
    user_level, row_level = [], []
    for _ in range(1000):
        arm = rng.integers(2, size=len(clicks)).astype(bool)
        user_level.append(
            compare_ratios(
                ratio_estimate(clicks[~arm], shown[~arm]), ratio_estimate(clicks[arm], shown[arm])
            ).p_value
            < 0.05
        )
        table = [[clicks[a].sum(), shown[a].sum() - clicks[a].sum()] for a in (~arm, arm)]
        row_level.append(stats.chi2_contingency(table, correction=False)[1] < 0.05)
    assert 0.036 <= np.mean(user_level) <= 0.064
    assert np.mean(row_level) > 0.08  # binomial variance ignores that a user's impressions correlate


def test_msprt_stays_valid_under_peeking_where_naive_peeking_does_not():
    rng = np.random.default_rng(7)
    looks, sequential, naive = 20, [], []
    for _ in range(300):
        control, treatment = [clustered_users(rng, 40) for _ in range(2)]
        cx, cy, tx, ty = [control[0]], [control[1]], [treatment[0]], [treatment[1]]
        differences, variances, p_naive = [], [], []
        for _ in range(looks):
            new_c, new_t = clustered_users(rng, 40), clustered_users(rng, 40)
            cx.append(new_c[0]), cy.append(new_c[1]), tx.append(new_t[0]), ty.append(new_t[1])
            c = ratio_estimate(np.concatenate(cx), np.concatenate(cy))
            t = ratio_estimate(np.concatenate(tx), np.concatenate(ty))
            differences.append(t.value - c.value)
            variances.append(c.variance + t.variance)
            p_naive.append(compare_ratios(c, t).p_value)
        valid = always_valid_p_values(np.array(differences), np.array(variances), tau2=0.01**2)
        sequential.append(valid.min() < 0.05)
        naive.append(min(p_naive) < 0.05)
    assert np.mean(sequential) <= 0.05
    assert np.mean(naive) > 0.1


def test_msprt_p_value_shrinks_with_evidence():
    assert msprt_p_value(0.0, 1e-4, 1e-4) == 1.0
    # log Lambda = 0.5 log(1/2) + 1e-4 * 0.05^2 / (2 * 1e-4 * 2e-4) = -0.3466 + 6.25
    assert msprt_p_value(0.05, 1e-4, 1e-4) == pytest.approx(np.exp(-(0.5 * np.log(0.5) + 6.25)))
    assert np.all(np.diff(always_valid_p_values(np.array([0.01, -0.02, 0.0]), np.ones(3) * 1e-4, 1e-4)) <= 0)
