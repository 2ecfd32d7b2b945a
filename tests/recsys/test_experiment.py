"""Per-model defaults: what `alignrec train` runs when an option is not given."""

from __future__ import annotations

from dataclasses import replace

from recsys.experiment import DEFAULT_LR, MODEL_DEFAULTS, TrainConfig, default_config, negatives_per_event


def test_an_option_not_given_takes_the_models_default_and_a_given_one_wins():
    lightgcn = default_config("lightgcn", dim=None, reg=None, epochs=None, patience=3)
    assert (lightgcn.dim, lightgcn.reg, lightgcn.num_negatives, lightgcn.patience) == (128, 1e-3, 4, 3)
    assert default_config("lightgcn", dim=16, num_negatives=1).dim == 16
    assert negatives_per_event(default_config("lightgcn", num_negatives=1)) == 1
    assert default_config("cml").epochs == 200 and default_config("bpr").epochs == TrainConfig.epochs
    assert default_config("bpr") == replace(TrainConfig(model="bpr"), **MODEL_DEFAULTS["bpr"])
    assert default_config("pop") == TrainConfig(model="pop")  # no per-model defaults: TrainConfig's


def test_every_per_model_default_names_a_config_field():
    fields = set(TrainConfig.__dataclass_fields__)
    for model, values in MODEL_DEFAULTS.items():
        assert set(values) <= fields, model
        assert DEFAULT_LR.get(model) == values["lr"]  # None: from the training log (BPR)
