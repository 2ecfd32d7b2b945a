"""LightGCN's log-size batch: the rule on event counts, and how a config takes it from a tiny log."""

from __future__ import annotations

import pytest

from recsys.experiment import (
    TrainConfig,
    build_model,
    default_config,
    fit_config,
    log_defaults_note,
    resolve_config,
)
from recsys.models import lightgcn_defaults
from recsys.models.lightgcn_defaults import MIN_BATCH, STEPS_PER_EPOCH, describe, log_defaults
from recsys.splits import random_split
from recsys.synthetic import make_interactions


def test_the_batch_keeps_about_forty_steps_an_epoch_and_never_falls_below_the_minimum():
    assert log_defaults(80_808, 943, 1_657) == {"batch_size": MIN_BATCH}  # ML-100K's training part
    assert log_defaults(805_443, 6_040, 3_678) == {"batch_size": 20_480}  # ML-1M's
    assert log_defaults(81_920, 1, 1)["batch_size"] == 2048
    assert log_defaults(81_921, 1, 1)["batch_size"] == 3072
    for events in (90_000, 400_000, 5_000_000):
        batch = log_defaults(events, 1, 1)["batch_size"]
        assert batch % 1024 == 0  # the smallest such multiple with at most 40 steps an epoch:
        assert -(-events // batch) <= STEPS_PER_EPOCH < -(-events // (batch - 1024))
    assert describe(805_443, 6_040, 3_678) == (
        "805,443 training events: batch 20,480, 40 steps an epoch "
        "(the batch grows to keep <= 40 steps: each step propagates the whole graph)"
    )
    assert describe(500, 10, 10).endswith("1 step an epoch (the minimum batch)")
    with pytest.raises(ValueError, match="no events"):
        log_defaults(0, 0, 0)


def _split():
    log = make_interactions(num_users=40, num_items=60, events_per_user=5, seed=3)
    return random_split(log[0], (0.8, 0.1, 0.1), seed=3)


def test_lightgcn_takes_its_batch_from_the_training_log_and_a_given_batch_wins(monkeypatch):
    split = _split()
    assert resolve_config(default_config("lightgcn"), split.train).batch_size == MIN_BATCH
    monkeypatch.setattr(lightgcn_defaults, "MIN_BATCH", 1)  # a tiny log whose batch follows the rule
    monkeypatch.setattr(lightgcn_defaults, "ROUND_TO", 1)
    monkeypatch.setattr(lightgcn_defaults, "STEPS_PER_EPOCH", 10)
    resolved = resolve_config(default_config("lightgcn"), split.train)
    assert resolved.batch_size == -(-len(split.train) // 10) > 1
    note = log_defaults_note(default_config("lightgcn"), split.train)
    assert note.startswith(f"{len(split.train)} training events: batch {resolved.batch_size}")
    given = default_config("lightgcn", batch_size=16)
    assert resolve_config(given, split.train).batch_size == 16
    assert log_defaults_note(given, split.train) is None
    config = default_config("lightgcn", epochs=1, min_epochs=0)
    fitted = fit_config(build_model(config, split), split, config, progress=False)
    assert fitted.epochs_run == 1  # trains with the resolved batch (None would fail in fit)
    assert TrainConfig(model="lightgcn").batch_size == 2048  # TrainConfig's own value, nothing to resolve
