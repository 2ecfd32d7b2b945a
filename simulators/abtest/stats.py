"""Statistics for simulated A/B tests: user-level inference for ratio metrics, and an always-valid
sequential test.

Ratio metrics such as CTR (clicks / impressions) are compared at the level of the randomisation
unit, the user: each user contributes one (numerator, denominator) pair, and the variance of the
arm's ratio comes from the delta method over users (Deng, Knoblich, Lu, "Applying the Delta Method in
Metric Analytics", KDD 2018) — never from the row-level binomial variance, which ignores that one
user's impressions are correlated and makes A/A tests "significant" far too often. A user-clustered
bootstrap (users resampled within each arm) is the cross-check.

Sequential testing: the mixture SPRT of Johari, Koomen, Pekelis and Walsh ("Always Valid Inference",
2017/2022) on the difference of the arms' means with a normal mixing distribution N(0, tau^2):

    Lambda_n = sqrt(V / (V + tau^2)) * exp(tau^2 * d^2 / (2 V (V + tau^2)))

with d the observed difference and V its (delta-method) variance; the always-valid p-value is the
running minimum of min(1, 1 / Lambda). Peeking after every round keeps the false-positive rate at or
below alpha. (spotify-confidence's group-sequential tests were the library of choice, but it pins
pandas < 3, which this project cannot install beside pandas 3; no maintained mSPRT package installs
here either, so the two formulas above are written out and tested.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class RatioEstimate:
    """An arm's ratio metric over users, with the delta-method variance of the ratio."""

    value: float
    variance: float
    users: int


def ratio_estimate(numerators: np.ndarray, denominators: np.ndarray) -> RatioEstimate:
    """sum(x) / sum(y) over users, with Var by the delta method (first-order Taylor expansion).

    Var(X̄/Ȳ) ≈ (Var(x) - 2 r Cov(x, y) + r² Var(y)) / (n Ȳ²), r = X̄ / Ȳ, over the n users.
    """
    x, y = np.asarray(numerators, dtype=np.float64), np.asarray(denominators, dtype=np.float64)
    n = len(x)
    if n < 2 or y.sum() <= 0:
        raise ValueError(f"a ratio needs at least 2 users with a positive denominator, got {n}")
    mean_x, mean_y = x.mean(), y.mean()
    r = mean_x / mean_y
    cov = np.cov(x, y, ddof=1)
    variance = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * mean_y * mean_y)
    return RatioEstimate(float(r), float(max(variance, 0.0)), n)


@dataclass(frozen=True)
class Comparison:
    """Treatment minus control on one metric, fixed-horizon z-test."""

    control: float
    treatment: float
    difference: float
    relative: float
    ci_low: float
    ci_high: float
    p_value: float


def compare_ratios(control: RatioEstimate, treatment: RatioEstimate, alpha: float = 0.05) -> Comparison:
    """Two-sided z-test and (1 - alpha) interval of the difference of two independent arms' ratios."""
    difference = treatment.value - control.value
    se = float(np.sqrt(control.variance + treatment.variance))
    z = difference / se if se > 0 else 0.0
    half = stats.norm.ppf(1 - alpha / 2) * se
    return Comparison(
        control=control.value,
        treatment=treatment.value,
        difference=difference,
        relative=difference / control.value if control.value else float("nan"),
        ci_low=difference - half,
        ci_high=difference + half,
        p_value=float(2 * stats.norm.sf(abs(z))),
    )


def bootstrap_difference_ci(
    control: tuple[np.ndarray, np.ndarray],
    treatment: tuple[np.ndarray, np.ndarray],
    alpha: float = 0.05,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """User-clustered percentile bootstrap interval of the ratio difference (treatment - control).

    Users are resampled within each arm with their numerator and denominator together.
    (``scipy.stats.bootstrap`` resamples pairs only across samples of equal length, and two arms
    differ in size, so the resampling is written here: two index draws and a quantile.)
    """
    rng = np.random.default_rng(seed)
    cx, cy = (np.asarray(a, dtype=np.float64) for a in control)
    tx, ty = (np.asarray(a, dtype=np.float64) for a in treatment)
    c = rng.integers(len(cx), size=(resamples, len(cx)))  # (R, n_c) resampled control users
    t = rng.integers(len(tx), size=(resamples, len(tx)))  # (R, n_t)
    differences = tx[t].sum(1) / ty[t].sum(1) - cx[c].sum(1) / cy[c].sum(1)  # (R,)
    low, high = np.quantile(differences, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def msprt_p_value(difference: float, variance: float, tau2: float) -> float:
    """One look's mSPRT p-value, min(1, 1 / Lambda), for a normal mixture N(0, tau2) on the effect."""
    if variance <= 0:
        return 1.0
    log_lambda = 0.5 * np.log(variance / (variance + tau2)) + tau2 * difference**2 / (
        2 * variance * (variance + tau2)
    )
    return float(min(1.0, np.exp(-log_lambda)))


def always_valid_p_values(differences: np.ndarray, variances: np.ndarray, tau2: float) -> np.ndarray:
    """Running minimum of the per-look mSPRT p-values: (T,) always-valid p-values over T looks."""
    raw = [msprt_p_value(d, v, tau2) for d, v in zip(differences, variances, strict=True)]
    return np.minimum.accumulate(np.asarray(raw))
