"""BPR's log-size defaults: the rule on counts, and how a config takes them from a tiny log."""

from __future__ import annotations

import pytest

from recsys.experiment import TrainConfig, build_model, default_config, log_defaults_note, resolve_config
from recsys.models import bpr_defaults
from recsys.models.bpr_defaults import (
    LARGE,
    LARGE_EVENTS_PER_ROW,
    SMALL,
    describe,
    log_defaults,
)
from recsys.models.log_size import events_per_row
from recsys.splits import random_split
from recsys.synthetic import make_interactions


def test_the_rule_switches_at_the_threshold_of_events_per_embedding_row():
    assert events_per_row(num_events=805_443, num_users=6_040, num_items=3_678) == pytest.approx(
        82.9, abs=0.1
    )
    assert log_defaults(805_443, 6_040, 3_678) == LARGE  # ML-1M's training part
    assert log_defaults(80_808, 943, 1_657) == SMALL  # ML-100K's: 31 events per row
    rows = 100
    at = int(LARGE_EVENTS_PER_ROW * rows)
    assert log_defaults(at, 60, 40) == LARGE and log_defaults(at - 1, 60, 40) == SMALL  # threshold: large
    assert SMALL != LARGE and set(SMALL) == set(LARGE) == {"lr", "reg", "dim"}
    assert describe(310, 6, 4).startswith("31.0 training events per user-or-item embedding (<")
    assert describe(310, 6, 4).endswith("small log): lr 0.003, L2 0.01, dim 64")
    with pytest.raises(ValueError, match="no events"):
        log_defaults(0, 0, 0)


def _split(events_per_user: int, num_users: int, num_items: int):
    log = make_interactions(num_users=num_users, num_items=num_items, events_per_user=events_per_user, seed=3)
    return random_split(log[0], (0.8, 0.1, 0.1), seed=3)


@pytest.mark.parametrize(("threshold", "expected"), [(LARGE_EVENTS_PER_ROW, SMALL), (1.0, LARGE)])
def test_bpr_fields_left_unset_come_from_the_training_log(monkeypatch, threshold, expected):
    monkeypatch.setattr(bpr_defaults, "LARGE_EVENTS_PER_ROW", threshold)  # a tiny log made "large"
    split = _split(5, 40, 60)
    resolved = resolve_config(default_config("bpr"), split.train)
    assert {k: getattr(resolved, k) for k in expected} == expected
    assert resolved.num_negatives == 4  # not from the log
    model = build_model(default_config("bpr"), split)
    assert (model.dim, model.reg) == (expected["dim"], expected["reg"])
    assert log_defaults_note(default_config("bpr"), split.train).endswith(f"dim {expected['dim']}")


def test_a_given_value_wins():
    split = _split(5, 40, 60)
    given = resolve_config(default_config("bpr", lr=0.05, dim=8), split.train)
    assert (given.lr, given.dim, given.reg) == (0.05, 8, SMALL["reg"])
    assert "(taken: reg)" in log_defaults_note(default_config("bpr", lr=0.05, dim=8), split.train)
    explicit = TrainConfig(model="bpr")  # TrainConfig's own values, nothing left to the log
    assert resolve_config(explicit, split.train) is explicit
    assert log_defaults_note(explicit, split.train) is None
