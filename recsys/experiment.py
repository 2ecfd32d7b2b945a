"""Train and evaluate one recommender on one split, the way the CLI, the demo and the benchmarks do.

``run_experiment`` builds the model from explicit hyperparameters, trains it (torch models through
``recsys.train.fit``), evaluates on the test split with full ranking (train and valid items
masked), saves a :class:`~recsys.recommender.Recommender` folder (``out_dir/recommender``; the same
folder is the MLflow artifact), and returns metrics with their protocol.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from recsys.data import Interactions
from recsys.evaluate import evaluate_scores
from recsys.models import bpr_defaults, cml_defaults, lightgcn_defaults
from recsys.models.bpr import BPR
from recsys.models.cml import CML
from recsys.models.itemknn import ItemKNN
from recsys.models.lightgcn import LightGCN
from recsys.models.log_size import active_counts
from recsys.models.popularity import MostPopular
from recsys.recommender import Recommender
from recsys.splits import Split
from recsys.storage import write_text_atomic
from recsys.train import Callback, FitResult, fit


class ExperimentCallback(Callback, Protocol):
    """A training callback that also hears the final test metrics and where the run was saved."""

    def on_fit_end(
        self, final_metrics: dict[str, float], protocol: dict[str, str], artifact_dir: Path | None
    ) -> None: ...

    def on_fit_error(self, error: BaseException) -> None:
        """Training, evaluation or saving raised (or was interrupted); ``error`` is re-raised after."""


MODEL_NAMES = ("pop", "itemknn", "bpr", "lightgcn", "cml")
RECOMMENDER_DIR = "recommender"  # the saved Recommender folder inside a model's run folder
TORCH_MODELS = ("bpr", "lightgcn", "cml")


@dataclass
class TrainConfig:
    """Hyperparameters of one run (composed at entry points, passed below as explicit arguments)."""

    model: str = "bpr"
    dim: int | None = 64  # None (BPR's and CML's default): from the training log, see resolve_config
    epochs: int = 100
    batch_size: int | None = 2048  # None (LightGCN's default): from the training log
    lr: float | None = 1e-3  # None (BPR's default): from the training log
    reg: float | None = 1e-4  # None (BPR's default): from the training log
    num_negatives: int | None = None  # None: 1 for BPR/LightGCN; CML: from the training log
    num_layers: int = 3
    margin: float | None = 1.0  # None (CML's default): from the training log
    cov_weight: float = 1.0
    knn_k: int = 100
    patience: int = 10
    min_epochs: int = 0  # no early stop before this epoch
    eval_every: int = 1
    seed: int = 2026


# Per-model defaults of `alignrec train` and of the base `alignrec tune` starts from, where they differ
# from TrainConfig's (issue 14): chosen on validation NDCG@10 across ML-100K, Amazon Fashion and
# Amazon Scientific (benchmarks/defaults.py, benchmarks/defaults_sweep.py, benchmarks/results/defaults.md).
MODEL_DEFAULTS: dict[str, dict[str, object]] = {
    # BPR: lr, L2 and dim from the training log (`recsys.models.bpr_defaults`): lr 3e-3, L2 1e-2, dim 64
    # below 65 training events per user-or-item embedding (ML-100K, Amazon Fashion and Scientific), else
    # lr 1e-3, L2 5e-4, dim 128 (ML-1M, where the small-log setting was 0.956x `alignrec tune`'s).
    "bpr": {"lr": None, "reg": None, "dim": None, "num_negatives": 4},
    # LightGCN: batch size from the training log (`recsys.models.lightgcn_defaults`): 2048, or ~40 steps an
    # epoch on larger logs (a step propagates the whole graph; ML-1M 20,480).
    "lightgcn": {"lr": 1e-2, "dim": 128, "reg": 1e-3, "num_negatives": 4, "batch_size": None},
    # CML: lr 4.5e-3 and margin 1.4 had the best worst-case validation NDCG@10 relative to `alignrec tune`'s
    # (ML-100K 0.966, Amazon Scientific 0.971, Fashion 0.991; 0.986, 0.977, 0.991 of the re-tune); margin
    # 1.0 was 0.864 on Scientific, margins >= 1.5 and dim 128 cost ML-100K more. 200 epochs: on Scientific
    # it still improves at epoch 100. lr, dim, margin and negatives None: from the training log
    # (`resolve_config`, `recsys.models.cml_defaults`): lr 4.5e-3 with dim 64, margin 1.4, 10 negatives on
    # logs with >= 12 training events per user; dim 128, margin 1.6, 5 negatives below (Scientific 1.05x on
    # validation over 3 seeds, a setting that costs ML-100K 9%); lr 6e-4, dim 64, margin 0.65, 5 negatives
    # from 40 events per user-or-item row (ML-1M: 1.09x the dense setting on validation).
    "cml": {"lr": None, "epochs": 200, "dim": None, "margin": None, "num_negatives": None},
}
LOG_FIELDS = {  # what a model may take from the training log
    "bpr": ("lr", "reg", "dim"),
    "cml": ("lr", "dim", "margin", "num_negatives"),
    "lightgcn": ("batch_size",),
}
DEFAULT_LR = {  # fixed default learning rates (BPR's and CML's depend on the log)
    model: float(values["lr"]) for model, values in MODEL_DEFAULTS.items() if values["lr"] is not None
}


def default_config(model: str, **given: object) -> TrainConfig:
    """The configuration of ``model``: each field from ``given`` unless it is None, else the model's
    ``MODEL_DEFAULTS``, else TrainConfig's."""
    return TrainConfig(
        model=model, **{**MODEL_DEFAULTS.get(model, {}), **{k: v for k, v in given.items() if v is not None}}
    )


def resolve_config(config: TrainConfig, train: Interactions) -> TrainConfig:
    """``config`` with its model's fields left None (``LOG_FIELDS``) taken from the training log
    (``recsys.models.bpr_defaults`` / ``cml_defaults`` / ``lightgcn_defaults``); any other config
    unchanged."""
    unset = unresolved_fields(config)
    if not unset:
        return config
    chosen = _LOG_RULES[config.model].log_defaults(len(train), *active_counts(train))
    return replace(config, **{k: chosen[k] for k in unset})


def log_defaults_note(config: TrainConfig, train: Interactions) -> str | None:
    """What ``resolve_config`` takes from ``train`` for ``config``, in words; None when nothing."""
    unset = unresolved_fields(config)
    if not unset:
        return None
    note = _LOG_RULES[config.model].describe(len(train), *active_counts(train))
    return note + ("" if len(unset) == len(LOG_FIELDS[config.model]) else f" (taken: {', '.join(unset)})")


def unresolved_fields(config: TrainConfig) -> list[str]:
    """The fields of ``config`` left to the training log and not resolved yet."""
    return [k for k in LOG_FIELDS.get(config.model, ()) if getattr(config, k) is None]


# each: log_defaults / describe(events, users, items)
_LOG_RULES = {"bpr": bpr_defaults, "cml": cml_defaults, "lightgcn": lightgcn_defaults}


@dataclass
class ExperimentResult:
    model: str
    metrics: dict[str, float]
    protocol: dict[str, object]
    epochs_run: int = 0
    best_epoch: int = 0
    seconds_per_epoch: float = 0.0
    cpu_seconds_per_epoch: float = 0.0
    fit_seconds: float = 0.0
    eval_seconds: float = 0.0
    artifact: str | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, object] = field(default_factory=dict)  # as trained (log defaults resolved)


def build_model(config: TrainConfig, split: Split) -> object:
    """The model named by ``config.model``, sized for the split (unset log fields from its train log)."""
    train = split.train
    config = resolve_config(config, train)
    if config.model == "pop":
        return MostPopular(train)
    if config.model == "itemknn":
        return ItemKNN(train, k=config.knn_k)
    torch.manual_seed(config.seed)
    if config.model == "bpr":
        return BPR(train.num_users, train.num_items, dim=config.dim, reg=config.reg)
    if config.model == "lightgcn":
        return LightGCN(
            train.num_users, train.num_items, train.to_csr(), config.dim, config.num_layers, config.reg
        )
    if config.model == "cml":
        return CML(
            train.num_users, train.num_items, config.dim, margin=config.margin, cov_weight=config.cov_weight
        )
    raise ValueError(f"unknown model {config.model!r}; choose from {MODEL_NAMES}")


def negatives_per_event(config: TrainConfig) -> int:
    """Sampled negatives per training event: ``config.num_negatives``, or 1 for BPR and LightGCN.
    Raises ``ValueError`` for a CML config whose negatives come from the log and are not resolved."""
    if config.num_negatives is None and config.model == "cml":
        raise ValueError("CML's num_negatives comes from the training log: call resolve_config first")
    return config.num_negatives or 1


def fit_config(
    model: torch.nn.Module,
    split: Split,
    config: TrainConfig,
    *,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
) -> FitResult:
    """``recsys.train.fit`` with the config's hyperparameters, early-stopped on ``split.valid``
    (when it has events); 1 negative per event by default, CML's from its train log (``resolve_config``)."""
    config = resolve_config(config, split.train)
    return fit(
        model,
        split.train,
        valid=split.valid if len(split.valid) else None,
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        num_negatives=negatives_per_event(config),
        eval_every=config.eval_every,
        patience=config.patience,
        min_epochs=config.min_epochs,
        seed=config.seed,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        callbacks=callbacks,
        progress=progress,
    )


def run_experiment(
    split: Split,
    config: TrainConfig,
    out_dir: Path | None = None,
    ks: Sequence[int] = (10, 20),
    callbacks: Sequence[ExperimentCallback] = (),
    resume: bool = False,
    progress: bool = True,
) -> ExperimentResult:
    """Fit, evaluate on test (full ranking, train+valid masked), save to ``out_dir/recommender``.

    Callbacks get ``on_fit_start`` (from ``fit`` for torch models, here for the others), the
    per-epoch logs, and ``on_fit_end`` with the test metrics, the protocol as tags and ``out_dir``;
    if anything raises (or Ctrl-C stops it) they get ``on_fit_error`` and the error propagates.
    """
    config = resolve_config(config, split.train)  # unset log fields (BPR, CML, LightGCN) from the train log
    model = build_model(config, split)
    try:
        return _run(model, split, config, out_dir, ks, callbacks, resume, progress)
    except BaseException as error:  # noqa: BLE001 - re-raised: callbacks only close their runs
        for callback in callbacks:
            callback.on_fit_error(error)
        raise


def _run(
    model: torch.nn.Module,
    split: Split,
    config: TrainConfig,
    out_dir: Path | None,
    ks: Sequence[int],
    callbacks: Sequence[ExperimentCallback],
    resume: bool,
    progress: bool,
) -> ExperimentResult:
    start = time.perf_counter()
    result = ExperimentResult(model=config.model, metrics={}, protocol={}, config=asdict(config))
    if config.model in TORCH_MODELS:
        fitted = fit_config(
            model,
            split,
            config,
            checkpoint_dir=out_dir / "checkpoints" if out_dir else None,
            resume=resume,
            callbacks=callbacks,
            progress=progress,
        )
        result.epochs_run, result.best_epoch = fitted.epochs_run, fitted.best_epoch
        result.seconds_per_epoch, result.history = fitted.seconds_per_epoch, fitted.history
        result.cpu_seconds_per_epoch = fitted.cpu_seconds_per_epoch
    else:
        for callback in callbacks:
            callback.on_fit_start(asdict(config))
    result.fit_seconds = time.perf_counter() - start
    known = (split.train.to_csr() + split.valid.to_csr()).tocsr()
    protocol = {
        **split.protocol,
        "split_checksum": split.checksum,
        "candidates": "all items",
        "masked": "train+valid items",
        "ks": list(ks),
    }
    with torch.no_grad():
        evaluation = evaluate_scores(
            lambda u: model.scores(torch.from_numpy(u)), split.test, known, ks=ks, protocol=protocol
        )
    result.metrics = evaluation.metrics
    result.eval_seconds = evaluation.seconds
    result.protocol = evaluation.protocol
    artifact_dir = None
    if out_dir is not None:
        recommender = Recommender(
            model=model,
            train=split.train.to_csr(),
            known=known,
            user_ids=_ids(split.train.user_ids, split.train.num_users),
            item_ids=_ids(split.train.item_ids, split.train.num_items),
            protocol={**result.protocol, "model": config.model, "config": asdict(config)},
        )
        artifact_dir = recommender.save(out_dir / RECOMMENDER_DIR)
        result.artifact = str(artifact_dir)
        summary = {k: v for k, v in asdict(result).items() if k != "history"}
        write_text_atomic(out_dir / "metrics.json", json.dumps(summary, indent=2, default=str))
    for callback in callbacks:
        callback.on_fit_end(result.metrics, protocol_tags(result.protocol), artifact_dir)
    return result


def protocol_tags(protocol: dict[str, object]) -> dict[str, str]:
    """The protocol as string tags (``protocol.<key>``), JSON for non-strings."""
    return {f"protocol.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in protocol.items()}


def _ids(ids: np.ndarray | None, n: int) -> np.ndarray:
    """Original ids, or the internal ids as strings for logs built without an id map."""
    return ids if ids is not None else np.arange(n).astype(str)
