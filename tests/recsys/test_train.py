import numpy as np
import pytest
import torch

import recsys.train as train_module
from recsys.data import Interactions
from recsys.models.bpr import BPR
from recsys.train import fit, positive_lookup, sample_negatives


@pytest.mark.parametrize("dense", [True, False])
def test_negatives_avoid_positives(monkeypatch, dense):
    if not dense:  # force the sorted-key lookup used for catalogues too big for a dense mask
        monkeypatch.setattr(train_module, "DENSE_LOOKUP_MAX", 10)
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(5), 8)
    items = np.tile(np.arange(8), 5)  # every user has items 0..7 of 10
    items[-1] = 9  # ... except user 4, who has 9 instead of 7
    lookup = positive_lookup(Interactions(users=users, items=items, num_users=5, num_items=10))
    assert (lookup.dtype == bool) == dense
    neg = sample_negatives(users, 10, 3, lookup, rng)
    assert neg.shape == (40, 3)
    assert set(np.unique(neg[:32])) == {8, 9}
    assert set(np.unique(neg[32:])) == {7, 8}


def test_early_stopping_restores_best_and_resume(tmp_path, planted_split):
    train, valid = planted_split.train, planted_split.valid
    model = BPR(train.num_users, train.num_items, dim=8)
    result = fit(
        model,
        train,
        valid=valid,
        epochs=6,
        batch_size=256,
        lr=0.05,
        patience=2,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert (tmp_path / "last.pt").exists() and (tmp_path / "best.pt").exists()
    assert result.best_score == max(h["valid_ndcg@10"] for h in result.history)
    cpu = sum(h["epoch_cpu_seconds"] for h in result.history)  # per-epoch CPU time is logged
    assert abs(cpu / result.epochs_run - result.cpu_seconds_per_epoch) < 1e-9
    best = torch.load(tmp_path / "best.pt")
    assert torch.equal(best["user_embedding.weight"], model.user_embedding.weight)
    # resume continues the epoch count from the checkpoint
    again = BPR(train.num_users, train.num_items, dim=8)
    resumed = fit(
        again,
        train,
        valid=valid,
        epochs=result.epochs_run + 2,
        batch_size=256,
        lr=0.05,
        patience=0,
        checkpoint_dir=tmp_path,
        resume=True,
        progress=False,
    )
    assert resumed.history[0]["epoch"] == 0 and len(resumed.history) == result.epochs_run + 2


class _Recorder:
    def __init__(self):
        self.params, self.epochs = None, []

    def on_fit_start(self, params):
        self.params = params

    def on_epoch_end(self, epoch, logs):
        self.epochs.append((epoch, logs))


def test_callbacks_receive_params_and_epoch_logs(planted_split):
    recorder = _Recorder()
    model = BPR(planted_split.train.num_users, planted_split.train.num_items, dim=8)
    fit(
        model,
        planted_split.train,
        valid=planted_split.valid,
        epochs=2,
        batch_size=512,
        callbacks=[recorder],
        progress=False,
    )
    assert recorder.params["model"] == "BPR" and recorder.params["dim"] == 8
    assert [e for e, _ in recorder.epochs] == [0, 1]
    assert "valid_ndcg@10" in recorder.epochs[0][1] and "loss" in recorder.epochs[0][1]


def test_fit_takes_any_validation_function(planted_split):
    """A validation callable picks the epoch: here one that prefers epoch 2 of 5 whatever the model."""
    from recsys.models.bpr import BPR

    model = BPR(planted_split.train.num_users, planted_split.train.num_items, dim=8)
    calls = []

    def validate(trained):
        calls.append(trained.training)
        return {"score": [0.1, 0.2, 0.9, 0.3, 0.4][len(calls) - 1]}

    result = fit(
        model,
        planted_split.train,
        validate=validate,
        valid_metric="score",
        epochs=5,
        patience=0,
        batch_size=256,
        progress=False,
    )
    assert result.best_epoch == 2 and result.best_score == 0.9 and calls == [False] * 5
    assert result.history[2]["valid_score"] == 0.9
    with pytest.raises(ValueError, match="not both"):
        fit(
            model, planted_split.train, valid=planted_split.valid, validate=validate, epochs=1, progress=False
        )
    with pytest.raises(ValueError, match="without valid_metric 'ndcg@10'"):
        fit(model, planted_split.train, validate=lambda m: {"other": 1.0}, epochs=1, progress=False)


def test_min_epochs_holds_off_early_stopping(planted_split):
    from recsys.models.bpr import BPR

    def falling(model):  # the first evaluation is the best one, as at a popularity-like optimum
        falling.calls += 1
        return {"ndcg@10": 1.0 / falling.calls}

    falling.calls = 0
    model = BPR(planted_split.train.num_users, planted_split.train.num_items, dim=4)
    early = fit(
        model, planted_split.train, validate=falling, epochs=30, patience=2, batch_size=512, progress=False
    )
    falling.calls = 0
    held = fit(
        model,
        planted_split.train,
        validate=falling,
        epochs=30,
        patience=2,
        min_epochs=12,
        batch_size=512,
        progress=False,
    )
    assert (early.epochs_run, held.epochs_run) == (3, 12) and held.stopped_early
