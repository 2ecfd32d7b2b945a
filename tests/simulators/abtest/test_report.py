"""Trajectories and the Markdown / HTML / JSON report of a test on planted click probabilities."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from planted import simulate

from simulators.abtest.analysis import (
    active_users,
    cumulative_clicks_per_user,
    experiment_report,
    gini,
    lorenz,
    round_ctr,
)
from simulators.abtest.report import verdict, write_report

SETTINGS = {"arms": ["random", "best"], "rounds": 6, "k": 5}


@pytest.fixture(scope="module")
def result():
    return simulate((True, False))


def test_trajectories_add_up_to_the_totals(result):
    rounds = result.impressions.shape[0]
    for arm in (0, 1):
        members = result.arms == arm
        cumulative = cumulative_clicks_per_user(result, arm)
        totals = experiment_report(result, SETTINGS)["arms"][result.arm_names[arm]]
        assert totals["clicks"] == result.clicks[:, members].sum() < totals["impressions"]
        assert len(cumulative) == rounds
        assert cumulative[-1] == pytest.approx(result.clicks[:, members].sum() / members.sum())
        active = active_users(result, arm)
        assert active[0] == members.sum() and active == sorted(active, reverse=True)
        assert active[-1] >= (result.left_at[members] < 0).sum()
        ctr = round_ctr(result, arm)
        t = 0
        shown = result.impressions[t, members]
        assert ctr["ctr"][t] == pytest.approx(result.clicks[t, members].sum() / shown.sum())
        assert ctr["low"][t] < ctr["ctr"][t] < ctr["high"][t]


def test_lorenz_curve_matches_gini():
    counts = np.array([0, 0, 1, 3, 6, 10])
    curve = lorenz(counts, points=2001)
    x, y = np.array(curve["item_share"]), np.array(curve["exposure_share"])
    assert y[0] == 0 and y[-1] == pytest.approx(1) and np.all(y <= x + 1e-12)
    area = np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)
    # The interpolated curve's Gini is the discrete one's up to the n / (n - 1) correction.
    assert 1 - 2 * area == pytest.approx(gini(counts), abs=1e-3)


def test_verdict_names_the_winner_or_says_no_difference(result):
    numbers = experiment_report(result, SETTINGS)
    comparison = numbers["comparisons"]["best"]
    assert comparison["significant"] and comparison["difference"] > 0
    sentence = verdict("best", "random", comparison, 0.05, 6)
    assert sentence.startswith("best beats random on CTR")
    assert "95% CI [" in sentence and "p = " in sentence
    assert f"stopped at round {comparison['sequential_stop_round']}" in sentence
    assert "not stable" not in sentence
    flat = {**comparison, "significant": False, "sequential_stop_round": None}
    sentence = verdict("best", "random", flat, 0.05, 6)
    assert sentence.startswith("No significant difference between best and random")
    assert "did not stop in 6 rounds" in sentence
    early = {**comparison, "significant": False}  # ahead early, not at the horizon
    assert "stopped at round 1 (difference then" in verdict("best", "random", early, 0.05, 6)
    assert verdict("best", "random", early, 0.05, 6).endswith("the effect was not stable over the rounds.")
    worse = {**comparison, "difference": -comparison["difference"]}
    assert verdict("best", "random", worse, 0.05, 6).startswith("random beats best")


def test_report_files(result, tmp_path):
    numbers = experiment_report(result, SETTINGS)
    written = write_report(numbers, tmp_path / "report")
    folder = tmp_path / "report"
    assert sorted(p.name for p in folder.iterdir()) == sorted(written)  # no temporary files left
    pngs = sorted(name for name in written if name.endswith(".png"))
    assert {"ctr_per_round.png", "lorenz.png", "active_users.png", "sequential.png"} <= set(pngs)
    assert all((folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in pngs)
    md = (folder / "report.md").read_text()
    assert "best beats random on CTR" in md and all(f"]({name})" in md for name in pngs)
    assert "| best |" in md
    page = (folder / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(pngs) and base64.b64decode(embedded[0])[:4] == b"\x89PNG"
    assert 'src="http' not in page and "best beats random on CTR" in page
    saved = json.loads((folder / "report.json").read_text())
    assert saved["settings"] == SETTINGS
    assert saved["arms"]["best"]["ctr"] == pytest.approx(numbers["arms"]["best"]["ctr"])
    assert len(saved["trajectories"]["best"]["round_ctr"]["ctr"]) == 6


def test_a_new_report_replaces_the_old_one_and_other_folders_are_refused(result, tmp_path):
    write_report(experiment_report(simulate((True, False), extras=True), SETTINGS), tmp_path / "r")
    assert (tmp_path / "r" / "diversity.png").is_file()
    write_report(experiment_report(result, SETTINGS), tmp_path / "r")
    assert not (tmp_path / "r" / "diversity.png").exists()  # no plot of the earlier report left
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="holds files but no report.json"):
        write_report(experiment_report(result, SETTINGS), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_an_aa_report_says_no_significant_difference(tmp_path):
    numbers = experiment_report(simulate((True, True)), SETTINGS)  # two arms of the same random policy
    written = write_report(numbers, tmp_path / "aa")
    assert not numbers["comparisons"]["best"]["significant"]
    assert "No significant difference between best and random" in written["report.md"].read_text()
    assert not any(name.startswith("creators") for name in written)


def test_creator_series_are_plotted_when_present(result, tmp_path):
    history = {
        "active_creators": [10, 9, 9, 8, 8, 7],
        "new_items": [5, 4, 4, 3, 3, 2],
        "genre_entropy": [1.2, 1.1, 1.0, 1.0, 0.9, 0.9],
        "cold_success": [0.0, 0.2, 0.3, 0.3, 0.4, 0.4],
    }
    numbers = experiment_report(result, SETTINGS, creators={"random": history, "best": history})
    assert numbers["trajectories"]["best"]["creators"]["active_creators"][-1] == 7
    written = write_report(numbers, tmp_path / "creators")
    plots = {"creators_active_creators.png", "creators_genre_entropy.png", "creators_cold_success.png"}
    assert plots <= set(written) and "creators_new_item_share.png" not in written
    md = written["report.md"].read_text()
    assert "## Creators" in md and "| best | 10 -> 7 | 5 -> 2 |" in md
    with pytest.raises(ValueError, match="creators: no arm 'other'"):
        experiment_report(result, SETTINGS, creators={"other": history})


def test_diversity_and_ratings_join_the_report_when_recorded(tmp_path):
    result = simulate((True, False), extras=True)
    numbers = experiment_report(result, SETTINGS)
    for name in ("random", "best"):
        assert 0 < numbers["arms"][name]["diversity"] <= 2 and 1 <= numbers["arms"][name]["mean_rating"] <= 5
        assert len(numbers["trajectories"][name]["diversity"]) == 6
    # the planted best items are the best-rated ones too
    assert numbers["comparisons"]["best"]["mean_rating"]["difference"] > 0
    written = write_report(numbers, tmp_path / "extras")
    assert {"diversity.png", "mean_rating.png"} <= set(written)
    md = written["report.md"].read_text()
    assert "| diversity | mean rating |" in md and "mean rating diff." in md
