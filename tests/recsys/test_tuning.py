"""Validation-only search: TPE + median pruning in process, and the same search on Ray Tune."""

from __future__ import annotations

import pytest

from recsys.experiment import TrainConfig, default_config, negatives_per_event, resolve_config
from recsys.tuning import SPACES, base_params, tune, tune_on_ray, validation_score

pytest.importorskip("optuna")


def test_search_reads_only_validation_and_finds_a_better_config(planted_split, monkeypatch):
    import recsys.tuning as tuning

    seen = []
    real = tuning.evaluate_scores

    def spy(score_fn, events, *args, **kwargs):
        seen.append(events is planted_split.valid)
        return real(score_fn, events, *args, **kwargs)

    monkeypatch.setattr(tuning, "evaluate_scores", spy)
    base = TrainConfig(model="itemknn")
    result = tune(planted_split, base, trials=4, seed=0, progress=False)
    assert seen and all(seen)  # every score came from the validation events
    assert len(result.trials) == 4 and result.best_config.knn_k == result.best_params["knn_k"]
    assert result.best_valid == max(t["value"] for t in result.trials)


def test_median_pruning_stops_bad_torch_trials(planted_split):
    base = TrainConfig(model="bpr", epochs=8, batch_size=256, patience=0)
    result = tune(planted_split, base, trials=8, seed=1, progress=False)
    states = {t["state"] for t in result.trials}
    assert "complete" in states
    assert result.best_valid > validation_score(planted_split, TrainConfig(model="pop"))
    assert set(result.best_params) == {"lr", "reg", "dim", "num_negatives"}


def test_trial_zero_is_the_base_config_so_the_search_never_ends_below_it(planted_split):
    base = TrainConfig(model="bpr", dim=32, lr=0.0123, reg=3e-3, num_negatives=4, epochs=4, patience=0)
    result = tune(planted_split, base, trials=3, seed=0, progress=False)
    first = result.trials[0]
    assert {k: first[k] for k in base_params(base)} == {
        "lr": 0.0123,
        "reg": 3e-3,
        "dim": 32,
        "num_negatives": 4,
    }
    assert first["value"] == pytest.approx(validation_score(planted_split, base))  # seeded: the same run
    assert result.best_valid >= first["value"]
    knn = tune(planted_split, TrainConfig(model="itemknn", knn_k=17), trials=2, seed=0, progress=False)
    assert knn.trials[0]["knn_k"] == 17


def test_every_tunable_models_defaults_lie_in_its_search_space(planted_split):
    for model in SPACES:
        config = resolve_config(default_config(model, min_epochs=20), planted_split.train)
        for name, value in base_params(config).items():  # raises if a default is outside the space
            assert value == (
                negatives_per_event(config) if name == "num_negatives" else getattr(config, name)
            )
    with pytest.raises(ValueError, match="training log"):
        base_params(default_config("cml"))  # CML's negatives unresolved: refused, not guessed
    with pytest.raises(ValueError, match="lr, reg, dim come from the training log"):
        base_params(default_config("bpr"))
    with pytest.raises(ValueError):
        base_params(TrainConfig(model="bpr", dim=48))  # outside the space's dims: refused, not guessed


def test_no_trial_is_pruned_before_min_epochs(planted_split):
    base = TrainConfig(model="bpr", epochs=14, batch_size=256, patience=0, min_epochs=9)
    result = tune(planted_split, base, trials=12, seed=1, progress=False)
    pruned = [t for t in result.trials if t["state"] == "pruned"]
    assert pruned  # the pruner did act
    assert all(t["epochs"] > base.min_epochs for t in pruned)
    assert all(t["epochs"] == base.epochs for t in result.trials if t["state"] == "complete")


def test_unknown_model_and_empty_validation_are_refused(planted_split):
    with pytest.raises(ValueError, match="no search space"):
        tune(planted_split, TrainConfig(model="pop"), trials=1)
    assert set(SPACES) == {"bpr", "lightgcn", "cml", "itemknn"}


@pytest.mark.slow
def test_ray_tune_searches_the_same_space(planted_split, tmp_path):
    pytest.importorskip("ray")
    base = TrainConfig(model="bpr", epochs=4, batch_size=256, patience=0)
    local = tune(planted_split, base, trials=3, seed=3, progress=False)
    remote = tune_on_ray(planted_split, base, trials=3, seed=3, workers=2, storage=tmp_path)
    # TPE's first trials are its seeded random start-up draws: the same configs on both paths.
    key = lambda t: (t["lr"], t["dim"])  # noqa: E731
    assert sorted(map(key, local.trials)) == sorted(map(key, remote.trials))
    assert remote.best_valid == pytest.approx(local.best_valid, abs=1e-6)


def test_a_study_file_resumes_the_search_where_it_stopped(planted_split, tmp_path, monkeypatch):
    import recsys.tuning as tuning

    base = TrainConfig(model="itemknn", knn_k=17)
    db = tmp_path / "studies" / "knn.db"
    first = tune(planted_split, base, trials=3, seed=0, progress=False, study_db=db)
    calls = []
    real = tuning.validation_score
    monkeypatch.setattr(tuning, "validation_score", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = tune(planted_split, base, trials=3, seed=0, progress=False, study_db=db)
    assert calls == [] and again.trials == first.trials  # nothing left to run: the stored trials
    more = tune(planted_split, base, trials=5, seed=0, progress=False, study_db=db)
    assert len(calls) == 2 and len(more.trials) == 5
    assert more.trials[:3] == first.trials and more.trials[0]["knn_k"] == 17  # trial 0 not queued twice
    # the resumed sampler does not replay the first process's random draws (trials 1-2)
    assert {t["knn_k"] for t in more.trials[3:]}.isdisjoint(t["knn_k"] for t in first.trials[1:])
    assert more.best_valid == max(t["value"] for t in more.trials)


def test_a_study_file_refuses_another_base_config(planted_split, tmp_path):
    db = tmp_path / "knn.db"
    tune(planted_split, TrainConfig(model="itemknn", knn_k=17), trials=1, seed=0, progress=False, study_db=db)
    with pytest.raises(ValueError, match=r"knn\.db.*another base configuration"):
        tune(planted_split, TrainConfig(model="itemknn", knn_k=30), trials=2, progress=False, study_db=db)


def test_a_trial_left_running_by_a_killed_process_is_run_again(planted_split, tmp_path, monkeypatch):
    import time

    import optuna

    import recsys.tuning as tuning

    monkeypatch.setattr(tuning, "STUDY_HEARTBEAT_S", 1)
    base = TrainConfig(model="itemknn", knn_k=17)
    db = tmp_path / "knn.db"
    tune(planted_split, base, trials=2, seed=0, progress=False, study_db=db)
    study = tuning._open_study(planted_split, base, 0, db)
    dead = study.ask()  # what a process killed during a trial leaves: running, heartbeat stopped
    dead.suggest_int("knn_k", 10, 400, log=True)
    study._storage.record_heartbeat(dead._trial_id)
    time.sleep(3.5)  # past the grace period (twice the heartbeat; SQLite stores whole seconds)
    result = tune(planted_split, base, trials=4, seed=0, progress=False, study_db=db)
    states = [t["state"] for t in result.trials]
    assert states[dead.number] == "fail" and states.count("complete") == 4
    retried = [t for t in result.trials[dead.number + 1 :] if t["knn_k"] == dead.params["knn_k"]]
    assert retried and retried[0]["state"] == "complete"
    assert optuna.trial.TrialState.RUNNING.name.lower() not in states


def test_a_base_with_fields_left_to_the_log_is_resolved_before_the_search(planted_split):
    from recsys.experiment import resolve_config

    base = default_config("cml", epochs=2, batch_size=256, patience=0)
    assert base.dim is None  # CML's dim, margin and negatives come from the training log
    result = tune(planted_split, base, trials=1, seed=0, progress=False)
    resolved = resolve_config(base, planted_split.train)
    assert {k: result.trials[0][k] for k in ("dim", "margin", "num_negatives")} == {
        "dim": resolved.dim,
        "margin": resolved.margin,
        "num_negatives": resolved.num_negatives,
    }
