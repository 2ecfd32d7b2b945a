"""CML's log-dependent defaults: the rule on counts, and how a config takes them from a tiny log."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from recsys.data import Interactions
from recsys.experiment import (
    TrainConfig,
    build_model,
    default_config,
    log_defaults_note,
    negatives_per_event,
    resolve_config,
    run_experiment,
)
from recsys.models.cml_defaults import (
    DENSE,
    LARGE,
    LARGE_EVENTS_PER_ROW,
    SPARSE,
    SPARSE_EVENTS_PER_USER,
    describe,
    log_defaults,
)
from recsys.splits import random_split
from recsys.synthetic import make_interactions


def test_the_rule_switches_at_the_thresholds():
    assert log_defaults(num_events=47, num_users=10, num_items=20) == SPARSE  # 4.7 per user: Scientific
    assert log_defaults(80_808, 943, 1_657) == DENSE  # ML-100K's training part: 85.7 per user, 31 per row
    assert log_defaults(805_443, 6_040, 3_678) == LARGE  # ML-1M's: 133 per user, 83 per row
    at = int(SPARSE_EVENTS_PER_USER) * 10
    assert log_defaults(at, 10, 200) == DENSE and log_defaults(at - 1, 10, 200) == SPARSE  # threshold: dense
    rows = int(LARGE_EVENTS_PER_ROW) * 100
    assert log_defaults(rows, 60, 40) == LARGE and log_defaults(rows - 1, 60, 40) == DENSE
    assert len({str(SPARSE), str(DENSE), str(LARGE)}) == 3
    assert set(SPARSE) == set(DENSE) == set(LARGE) == {"lr", "dim", "margin", "num_negatives"}
    assert describe(47, 10, 20) == (
        "4.7 training events per user (< 12: sparse): lr 0.0045, dim 128, margin 1.6, 5 negatives"
    )
    assert describe(805_443, 6_040, 3_678) == (
        "133.4 training events per user, 82.9 per user-or-item (>= 40: large): lr 0.0006, dim 64, "
        "margin 0.65, 5 negatives"
    )
    with pytest.raises(ValueError, match="no users"):
        log_defaults(0, 0, 0)


def _log(events_per_user: int) -> Interactions:
    return make_interactions(num_users=30, num_items=60, events_per_user=events_per_user, seed=3)[0]


@pytest.mark.parametrize(("events_per_user", "expected"), [(4, SPARSE), (40, DENSE)])  # 40: 17 per row
def test_cml_fields_left_unset_come_from_the_training_log(events_per_user, expected):
    train = _log(events_per_user)
    resolved = resolve_config(default_config("cml"), train)
    rate = len(train) / np.unique(train.users).size
    assert (rate < SPARSE_EVENTS_PER_USER) == (expected is SPARSE)
    assert {k: getattr(resolved, k) for k in expected} == expected
    assert negatives_per_event(resolved) == expected["num_negatives"]
    assert log_defaults_note(default_config("cml"), train).endswith(
        f"lr {expected['lr']:g}, dim {expected['dim']}, margin {expected['margin']}, "
        f"{expected['num_negatives']} negatives"
    )


def test_a_given_value_wins_and_other_models_are_untouched():
    train = _log(4)
    given = resolve_config(default_config("cml", dim=16, num_negatives=7), train)
    assert (given.dim, given.margin, given.num_negatives) == (16, SPARSE["margin"], 7)
    assert "(taken: lr, margin)" in log_defaults_note(default_config("cml", dim=16, num_negatives=7), train)
    explicit = TrainConfig(model="cml", lr=1e-3, dim=8, margin=0.5, num_negatives=3)
    assert resolve_config(explicit, train) is explicit and log_defaults_note(explicit, train) is None
    itemknn = default_config("itemknn")
    assert resolve_config(itemknn, train) is itemknn and log_defaults_note(itemknn, train) is None
    with pytest.raises(ValueError, match="training log"):
        negatives_per_event(default_config("cml"))  # unresolved: refused, not guessed


def test_a_run_trains_and_records_the_resolved_values():
    split = random_split(_log(5), (0.8, 0.1, 0.1), seed=3)
    config = default_config("cml", epochs=1, min_epochs=0)
    model = build_model(config, split)
    assert (model.dim, model.margin) == (SPARSE["dim"], SPARSE["margin"])
    result = run_experiment(split, config, progress=False)
    assert {k: result.config[k] for k in SPARSE} == SPARSE
    assert result.config == asdict(resolve_config(config, split.train))
