"""Reading an A/B result: CTR per arm with user-level intervals, the fixed-horizon test, the
always-valid sequential test round by round, naive daily peeking, retention and exposure spread; and
the per-round trajectories a report plots (CTR with intervals, active users, cumulative clicks per
user, the Lorenz curve of exposure)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from scipy import stats

from simulators.abtest.environment import ABResult
from simulators.abtest.stats import RatioEstimate, always_valid_p_values, compare_ratios, ratio_estimate


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of exposure counts (0: every item shown equally; near 1: a few items take all)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    if x.sum() == 0:
        return 0.0
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def clicks_per_user(result: ABResult, arm: int) -> RatioEstimate:
    """Mean clicks per assigned user over the whole test (users who left count with what they did):
    engagement that rewards keeping users, where CTR alone does not."""
    members = result.arms == arm
    total = result.clicks[:, members].sum(0).astype(np.float64)
    return ratio_estimate(total, np.ones_like(total))


def mean_rating(result: ABResult, arm: int) -> RatioEstimate:
    """Mean star rating of the arm's clicked items, a ratio over users (sum of ratings / clicks)."""
    return ratio_estimate(*result.user_rating_totals(arm))


def sequential_trace(result: ABResult, treatment: int, control: int = 0, tau2: float | None = None) -> dict:
    """Per round: the cumulative CTR difference, its fixed-horizon p-value (what a naive daily peek
    reads) and the always-valid mSPRT p-value. ``tau2`` (the mixing variance: the test has most
    power near effects of size sqrt(tau2)) defaults to (20% of the first round's control CTR)^2."""
    rounds = result.impressions.shape[0]
    differences, variances, naive = [], [], []
    for t in range(1, rounds + 1):
        c = ratio_estimate(*result.user_totals(control, t))
        x = ratio_estimate(*result.user_totals(treatment, t))
        comparison = compare_ratios(c, x)
        differences.append(comparison.difference)
        variances.append(c.variance + x.variance)
        naive.append(comparison.p_value)
    if tau2 is None:
        first = ratio_estimate(*result.user_totals(control, 1)).value
        tau2 = (0.2 * first) ** 2
    valid = always_valid_p_values(np.array(differences), np.array(variances), tau2)
    return {"difference": differences, "naive_p": naive, "always_valid_p": valid.tolist(), "tau2": tau2}


def first_below(p_values: list[float], alpha: float) -> int | None:
    """The first round (1-based) whose p-value is below alpha, or None."""
    hits = [t for t, p in enumerate(p_values, start=1) if p < alpha]
    return hits[0] if hits else None


def report(result: ABResult, control: int = 0, alpha: float = 0.05) -> dict:
    """All numbers of one test, as plain data."""
    arms = {}
    for a, name in enumerate(result.arm_names):
        estimate = ratio_estimate(*result.user_totals(a))
        members = result.arms == a
        arms[name] = {
            "users": int(members.sum()),
            "impressions": int(result.impressions[:, members].sum()),
            "clicks": int(result.clicks[:, members].sum()),
            "ctr": estimate.value,
            "ctr_se": float(np.sqrt(estimate.variance)),
            "clicks_per_user": clicks_per_user(result, a).value,
            "retention": float((result.left_at[members] < 0).mean()),
            "coverage": float((result.exposure[a] > 0).mean()),
            "exposure_gini": gini(result.exposure[a]),
        }
        if result.diversity is not None:
            slates = result.diversity[:, members]
            arms[name]["diversity"] = float(np.nanmean(slates)) if (~np.isnan(slates)).any() else None
        if result.rating_sum is not None:
            arms[name]["mean_rating"] = mean_rating(result, a).value
    comparisons = {}
    for a, name in enumerate(result.arm_names):
        if a == control:
            continue
        per_user = compare_ratios(clicks_per_user(result, control), clicks_per_user(result, a), alpha)
        fixed = compare_ratios(
            ratio_estimate(*result.user_totals(control)), ratio_estimate(*result.user_totals(a)), alpha
        )
        trace = sequential_trace(result, a, control)
        stop = first_below(trace["always_valid_p"], alpha)
        comparisons[name] = {
            **asdict(fixed),
            "significant": fixed.p_value < alpha,
            "sequential_stop_round": stop,
            "difference_at_stop": None if stop is None else trace["difference"][stop - 1],
            "naive_peek_round": first_below(trace["naive_p"], alpha),
            "clicks_per_user": {**asdict(per_user), "significant": per_user.p_value < alpha},
            "trace": trace,
        }
        if result.rating_sum is not None:
            rating = compare_ratios(mean_rating(result, control), mean_rating(result, a), alpha)
            comparisons[name]["mean_rating"] = {**asdict(rating), "significant": rating.p_value < alpha}
    return {"control": result.arm_names[control], "alpha": alpha, "arms": arms, "comparisons": comparisons}


def round_ctr(result: ABResult, arm: int, alpha: float = 0.05) -> dict[str, list[float | None]]:
    """Per round: the arm's CTR over that round's impressions with a user-level (delta-method)
    (1 - alpha) interval; None for a round with fewer than 2 users shown anything."""
    members = result.arms == arm
    z = float(stats.norm.ppf(1 - alpha / 2))
    values, halves = [], []
    for t in range(result.impressions.shape[0]):
        shown = result.impressions[t, members].astype(np.float64)
        keep = shown > 0
        if keep.sum() < 2:
            values.append(np.nan)
            halves.append(np.nan)
            continue
        estimate = ratio_estimate(result.clicks[t, members][keep], shown[keep])
        values.append(estimate.value)
        halves.append(z * np.sqrt(estimate.variance))
    ctr, half = np.array(values), np.array(halves)
    return {
        key: [None if np.isnan(v) else float(v) for v in series]
        for key, series in (("ctr", ctr), ("low", ctr - half), ("high", ctr + half))
    }


def active_users(result: ABResult, arm: int) -> list[int]:
    """Per round, the arm's users still in the test (a user who leaves in round t is counted in t)."""
    left = result.left_at[result.arms == arm]
    return [int(((left < 0) | (left >= t)).sum()) for t in range(result.impressions.shape[0])]


def cumulative_clicks_per_user(result: ABResult, arm: int) -> list[float]:
    """Per round, clicks so far divided by the users assigned to the arm (leavers included)."""
    members = result.arms == arm
    per_round = result.clicks[:, members].sum(1).astype(np.float64)  # (T,)
    return (np.cumsum(per_round) / max(int(members.sum()), 1)).tolist()


def lorenz(counts: np.ndarray, points: int = 101) -> dict[str, list[float]]:
    """The Lorenz curve of exposure: the share of all impressions taken by the least-shown share of
    items, at ``points`` evenly spaced item shares (0 to 1). The diagonal is equal exposure; the
    Gini coefficient is twice the area between the two."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    cumulative = np.concatenate([[0.0], np.cumsum(x)]) / max(x.sum(), 1e-12)  # (I + 1,)
    grid = np.linspace(0.0, 1.0, points)
    return {
        "item_share": grid.tolist(),
        "exposure_share": np.interp(grid, np.linspace(0.0, 1.0, len(cumulative)), cumulative).tolist(),
    }


def _listed(column: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in column]


def trajectories(result: ABResult, alpha: float = 0.05) -> dict[str, dict]:
    """Per arm, the per-round series a report plots: CTR with its interval, active users, cumulative
    clicks per assigned user, intra-list diversity and mean rating of clicked items (when the run
    recorded them; None for a round without any); and the Lorenz curve of the arm's exposure over
    the whole test."""
    out = {
        name: {
            "round_ctr": round_ctr(result, a, alpha),
            "active_users": active_users(result, a),
            "cumulative_clicks_per_user": cumulative_clicks_per_user(result, a),
            "lorenz": lorenz(result.exposure[a]),
        }
        for a, name in enumerate(result.arm_names)
    }
    if result.diversity is not None:
        for a, column in enumerate(result.diversity_per_round().T):
            out[result.arm_names[a]]["diversity"] = _listed(column)
    if result.rating_sum is not None:
        for a, column in enumerate(result.rating_per_round().T):
            out[result.arm_names[a]]["mean_rating"] = _listed(column)
    return out


def experiment_report(
    result: ABResult,
    settings: dict[str, object],
    control: int = 0,
    alpha: float = 0.05,
    creators: dict[str, dict[str, list]] | None = None,
) -> dict:
    """Everything a report shows: the settings it ran with, ``report``'s numbers and the per-arm
    ``trajectories``; ``creators`` (arm name -> per-round creator metrics, e.g. a ``CreatorArm``'s
    ``history``) joins each arm's trajectories as ``creators``."""
    numbers = report(result, control, alpha)
    series = trajectories(result, alpha)
    for name, history in (creators or {}).items():
        if name not in series:
            raise ValueError(f"creators: no arm {name!r}; arms: {list(series)}")
        series[name]["creators"] = {key: list(values) for key, values in history.items()}
    return {"settings": dict(settings), **numbers, "trajectories": series}
