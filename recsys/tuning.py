"""Validation-only hyperparameter search: Optuna's TPE sampler with median pruning, in process or on
Ray Tune.

Every trial trains one model on ``split.train`` and is scored on ``split.valid`` (full ranking,
train items masked, NDCG@10 at the best epoch); the test split is never read here. Trial 0 is the
base configuration itself (its values of the searched parameters, ``base_params``), so a search
never returns a configuration that scores below the base on validation. Torch models report their
validation score every epoch, so a trial below the median of earlier trials at the same epoch stops
early (``optuna.pruners.MedianPruner``, or Ray Tune's ``MedianStoppingRule``), but never before the
base's ``min_epochs`` (nor before epoch 5): a slow learning rate is not cut while it warms up.

The search space of each model is one explicit function of an Optuna trial (``SPACES``); Ray Tune
uses the same functions through ``OptunaSearch``'s define-by-run interface, so both paths search the
same space. ``optuna`` and ``ray`` are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from recsys.evaluate import evaluate_scores
from recsys.experiment import (
    TORCH_MODELS,
    TrainConfig,
    build_model,
    fit_config,
    negatives_per_event,
    resolve_config,
    unresolved_fields,
)
from recsys.splits import Split

METRIC = "ndcg@10"
MIN_WARMUP_EPOCHS = 5  # no pruning before this many epochs, nor before the base config's min_epochs


def _embedding_space(trial) -> dict[str, object]:
    return {
        "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        "reg": trial.suggest_float("reg", 1e-6, 1e-2, log=True),
        "dim": trial.suggest_categorical("dim", [32, 64, 128]),
        "num_negatives": trial.suggest_categorical("num_negatives", [1, 4]),
    }


def _lightgcn_space(trial) -> dict[str, object]:
    return {**_embedding_space(trial), "num_layers": trial.suggest_int("num_layers", 1, 4)}


def _cml_space(trial) -> dict[str, object]:
    return {
        "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        "dim": trial.suggest_categorical("dim", [32, 64, 128]),
        "margin": trial.suggest_float("margin", 0.1, 2.0),
        "num_negatives": trial.suggest_categorical("num_negatives", [5, 10, 20]),
    }


def _itemknn_space(trial) -> dict[str, object]:
    return {"knn_k": trial.suggest_int("knn_k", 10, 400, log=True)}


SPACES: dict[str, Callable] = {
    "bpr": _embedding_space,
    "lightgcn": _lightgcn_space,
    "cml": _cml_space,
    "itemknn": _itemknn_space,
}


def base_params(base: TrainConfig) -> dict[str, object]:
    """The base configuration's values of the parameters ``SPACES[base.model]`` searches (trial 0);
    ``num_negatives`` None is the number training would use. Raises ``ValueError`` when a value lies
    outside a categorical choice of the space or a field left to the training log is unresolved."""
    import optuna

    unset = unresolved_fields(base)
    if unset:
        raise ValueError(
            f"{base.model}'s {', '.join(unset)} come from the training log: call resolve_config first"
        )
    values = {**asdict(base), "num_negatives": negatives_per_event(base)}
    return SPACES[base.model](optuna.trial.FixedTrial(values))


def warmup_epochs(base: TrainConfig) -> int:
    """Epochs a trial runs before it may be pruned."""
    return max(MIN_WARMUP_EPOCHS, base.min_epochs)


@dataclass
class TuneResult:
    model: str
    best_params: dict[str, object]
    best_valid: float  # validation NDCG@10 of the best trial
    best_config: TrainConfig
    trials: list[dict[str, object]] = field(default_factory=list)  # number, state, value, epochs, params


class _Reporter:
    """Training callback: hands each epoch's validation score to the search (which may stop it)."""

    def __init__(self, report: Callable[[int, float], None]) -> None:
        self.report = report

    def on_fit_start(self, params: dict[str, object]) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if f"valid_{METRIC}" in logs:
            self.report(epoch, logs[f"valid_{METRIC}"])


def validation_score(
    split: Split, config: TrainConfig, report: Callable[[int, float], None] | None = None
) -> float:
    """Train ``config`` on ``split.train``; its best validation NDCG@10 (train items masked)."""
    model = build_model(config, split)
    if config.model in TORCH_MODELS:
        result = fit_config(
            model, split, config, callbacks=[_Reporter(report)] if report else (), progress=False
        )
        return float(result.best_score)
    with torch.no_grad():
        metrics = evaluate_scores(
            lambda u: model.scores(torch.from_numpy(u)), split.valid, split.train.to_csr(), ks=(10,)
        ).metrics
    return float(metrics[METRIC])


def _check(split: Split, model: str, trials: int) -> None:
    if model not in SPACES:
        raise ValueError(f"model {model!r} has no search space; tunable: {sorted(SPACES)}")
    if len(split.valid) == 0:
        raise ValueError("tuning needs validation events, but the split's validation part is empty")
    if trials < 1:
        raise ValueError(f"trials: expected at least 1, got {trials}")


def tune(
    split: Split,
    base: TrainConfig,
    trials: int = 30,
    seed: int = 2026,
    progress: bool = True,
    study_db: str | Path | None = None,
) -> TuneResult:
    """Search ``SPACES[base.model]`` in this process: trial 0 the base itself, then TPE; median
    pruning after ``warmup_epochs(base)`` epochs.

    With ``study_db`` (a SQLite file) every finished trial is stored as it ends, and a later call with
    the same file, split and base configuration resumes the search: it runs only the trials still
    missing from ``trials`` (complete or pruned ones count). A trial left running by a killed process
    is marked failed once its heartbeat is stale and run again with the same parameters. The sampler's
    random state is not stored: a resumed search seeds it with ``seed`` plus the number of stored
    trials, so its random start-up draws are new points rather than a replay of the first process's
    (it may propose other points than an unbroken search would)."""
    import optuna

    _check(split, base.model, trials)
    base = resolve_config(base, split.train)  # fields left to the log: trial 0 as trained
    space = SPACES[base.model]
    study = _open_study(split, base, seed, study_db)
    counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=counted))
    if not study.trials:
        study.enqueue_trial(base_params(base))

    def objective(trial) -> float:
        config = replace(base, **space(trial))

        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch}: valid {METRIC} {value:.4f} below the median")

        return validation_score(split, config, report)

    running = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))
    if done < trials:  # a stale running trial may be retried: room for it, stopped at `trials` counted
        study.optimize(
            objective,
            n_trials=trials - done + running,
            callbacks=[optuna.study.MaxTrialsCallback(trials, states=counted)],
            show_progress_bar=progress,
        )
    table = [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "epochs": len(t.intermediate_values),  # epochs reported (0 for models without epochs)
            **t.params,
        }
        for t in study.trials
    ]
    best = study.best_trial
    return TuneResult(base.model, dict(best.params), float(best.value), replace(base, **best.params), table)


STUDY_HEARTBEAT_S = 30  # a stored trial with no heartbeat for twice this is taken as dead


def _open_study(split: Split, base: TrainConfig, seed: int, study_db: str | Path | None):
    """A new in-memory study, or the study of ``study_db`` for this split and base config (created
    when absent). Raises ``ValueError`` when the file's study was made for another base config."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=warmup_epochs(base))
    if study_db is None:
        return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    path = Path(study_db)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # heartbeats and retries are marked experimental in Optuna 4
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{path.resolve()}",
            heartbeat_interval=STUDY_HEARTBEAT_S,
            failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=1),
        )
    name = f"{base.model}-{split.checksum[:12]}"
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    if study.trials:  # resumed: a sampler seeded as the first process's would replay its draws
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    config = json.dumps(asdict(base), sort_keys=True, default=str)
    stored = study.user_attrs.get("base_config")
    if stored is None:
        study.set_user_attr("base_config", config)
    elif stored != config:
        raise ValueError(
            f"{path}: its study {name!r} was run with another base configuration ({stored}); "
            f"this search's is {config}. Use another --study-db file, or delete this one."
        )
    return study


def _define(model: str, trial) -> None:
    """Ray's define-by-run hook (module level, so Ray can pickle the searcher's checkpoint)."""
    SPACES[model](trial)


def tune_on_ray(
    split: Split,
    base: TrainConfig,
    trials: int = 30,
    seed: int = 2026,
    workers: int = 2,
    address: str | None = None,
    storage: Path | None = None,
) -> TuneResult:
    """The same search on Ray Tune: ``OptunaSearch`` (the base first, then TPE, define-by-run over
    ``SPACES``) with the median stopping rule counted in epochs, ``workers`` trials at a time, on a
    local Ray (``address`` None) or a cluster.
    Ray's own trial records go under ``storage`` (default: Ray's, ``~/ray_results``)."""
    from ray import tune as ray_tune
    from ray.tune.schedulers import MedianStoppingRule
    from ray.tune.search.optuna import OptunaSearch

    from recsys.ray_session import ray_session

    _check(split, base.model, trials)
    base = resolve_config(base, split.train)  # fields left to the log: trial 0 as trained
    with ray_session(address, workers):

        def trainable(params: dict, data: Split) -> None:
            torch.set_num_threads(1)  # one trial per CPU
            config = replace(base, **params)
            score = validation_score(data, config, lambda epoch, value: ray_tune.report({METRIC: value}))
            ray_tune.report({METRIC: score, "done": True})

        tuner = ray_tune.Tuner(
            ray_tune.with_resources(ray_tune.with_parameters(trainable, data=split), {"cpu": 1}),
            tune_config=ray_tune.TuneConfig(  # metric and mode go to the searcher and the scheduler only
                search_alg=OptunaSearch(
                    space=partial(_define, base.model),
                    metric=METRIC,
                    mode="max",
                    points_to_evaluate=[base_params(base)],
                    seed=seed,
                ),
                scheduler=MedianStoppingRule(  # one training_iteration per reported epoch
                    time_attr="training_iteration",
                    metric=METRIC,
                    mode="max",
                    grace_period=warmup_epochs(base),
                    min_samples_required=3,
                ),
                num_samples=trials,
                max_concurrent_trials=workers,
            ),
            run_config=ray_tune.RunConfig(
                verbose=0, storage_path=None if storage is None else str(Path(storage).resolve())
            ),
        )
        results = tuner.fit()
    table = []
    for number, result in enumerate(results):
        values = result.metrics_dataframe[METRIC] if result.metrics_dataframe is not None else []
        done = bool(result.metrics.get("done"))
        table.append(
            {
                "number": number,
                "state": "complete" if done else "pruned",
                "value": float(np.max(values)) if len(values) else None,
                "epochs": len(values) - 1
                if done
                else len(values),  # a complete trial's last report: its score
                **result.config,
            }
        )
    best = max((t for t in table if t["value"] is not None), key=lambda t: t["value"])
    params = {k: v for k, v in best.items() if k not in ("number", "state", "value", "epochs")}
    return TuneResult(base.model, params, float(best["value"]), replace(base, **params), table)


def describe(result: TuneResult) -> dict[str, object]:
    """The result as plain data (for JSON and MLflow)."""
    return {
        "model": result.model,
        "best_params": result.best_params,
        "best_valid_ndcg@10": result.best_valid,
        "best_config": asdict(result.best_config),
        "trials": result.trials,
    }
