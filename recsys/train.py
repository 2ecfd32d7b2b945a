"""One training loop for every torch embedding model in ``recsys.models``.

The loop knows nothing about the model beyond ``loss(users, pos, neg)`` and ``scores(users)``.
Each epoch shuffles the training events, draws ``num_negatives`` items per event that the user has
not interacted with (vectorised rejection sampling), and steps Adam. Every ``eval_every`` epochs it
evaluates on the validation split (full ranking, train items masked), keeps the best parameters,
writes an atomic checkpoint that ``resume=True`` continues from, and stops after ``patience``
evaluations without improvement. Logging (MLflow, ...) attaches through callbacks.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from recsys.data import Interactions
from recsys.evaluate import evaluate_scores
from recsys.storage import torch_save_atomic


class Callback(Protocol):
    def on_fit_start(self, params: dict[str, object]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...


@dataclass
class FitResult:
    best_epoch: int
    best_score: float
    epochs_run: int
    seconds_per_epoch: float
    cpu_seconds_per_epoch: float
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)


DENSE_LOOKUP_MAX = 1 << 26  # user x item cells up to which the positives are a dense bool mask (64 MB)


def positive_lookup(train: Interactions) -> np.ndarray:
    """What :func:`sample_negatives` checks negatives against: a dense bool mask over the
    user * num_items + item cells when there are at most ``DENSE_LOOKUP_MAX`` of them (one array
    read per check: ~7x faster than a sorted-key search on ML-100K), else the sorted cell keys."""
    keys = np.unique(train.users.astype(np.int64) * train.num_items + train.items)
    cells = train.num_users * train.num_items
    if cells > DENSE_LOOKUP_MAX:
        return keys
    mask = np.zeros(cells, dtype=bool)
    mask[keys] = True
    return mask


def _is_positive(keys: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """Whether each user * num_items + item key is a training event (see :func:`positive_lookup`)."""
    if positives.dtype == bool:
        return positives[keys]
    found = np.searchsorted(positives, keys)
    return positives[np.minimum(found, len(positives) - 1)] == keys


def sample_negatives(
    users: np.ndarray,
    num_items: int,
    num_negatives: int,
    positive_keys: np.ndarray,
    rng: np.random.Generator,
    max_rounds: int = 20,
) -> np.ndarray:
    """(N, num_negatives) items drawn uniformly among those each user has not interacted with.

    positive_keys: :func:`positive_lookup` of the training events (a dense bool mask over the
        user * num_items + item cells, or the sorted array of those keys).
    """
    negatives = rng.integers(num_items, size=(len(users), num_negatives))  # (N, n)
    rows, cols = np.nonzero(_is_positive(users[:, None] * num_items + negatives, positive_keys))
    for _ in range(max_rounds):  # redraw only the clashes, so each round is small
        if len(rows) == 0:
            break
        redraw = rng.integers(num_items, size=len(rows))
        negatives[rows, cols] = redraw
        still = _is_positive(users[rows] * num_items + redraw, positive_keys)
        rows, cols = rows[still], cols[still]
    return negatives


def _hyperparameters(model: nn.Module) -> dict[str, object]:
    """The model's plain attributes (dim, reg, margin, ...), for logging."""
    plain = (int, float, str, bool)
    return {k: v for k, v in vars(model).items() if isinstance(v, plain) and k[0] != "_" and k != "training"}


def _full_ranking_validation(valid: Interactions, known) -> Callable[[nn.Module], dict[str, float]]:
    """Validation on held-out events: full ranking with the training items masked."""

    def validate(model: nn.Module) -> dict[str, float]:
        result = evaluate_scores(lambda u: model.scores(torch.from_numpy(u)), valid, known, ks=(10, 20))
        return {k: v for k, v in result.metrics.items() if "@" in k}

    return validate


def fit(
    model: nn.Module,
    train: Interactions,
    *,
    valid: Interactions | None = None,
    validate: Callable[[nn.Module], dict[str, float]] | None = None,
    epochs: int = 100,
    batch_size: int = 2048,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    num_negatives: int = 1,
    eval_every: int = 1,
    patience: int = 10,
    min_epochs: int = 0,
    valid_metric: str = "ndcg@10",
    seed: int = 2026,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
) -> FitResult:
    """Train ``model`` in place and leave it holding the best validation parameters.

    Args:
        model: an nn.Module with ``loss(users, pos, neg)`` and ``scores(users)``.
        train: training events (repeated pairs are fine; they count as more positives).
        valid: validation events for early stopping (full ranking, train items masked, NDCG and
            Recall @10 and @20); None with no ``validate`` trains for ``epochs`` epochs.
        validate: instead of ``valid``, any validation: called with the model in eval mode, returns
            metrics that include ``valid_metric`` (e.g. ranking only cold items, see
            ``recsys.cold_start.fit_cold``).
        patience: evaluations without improvement of ``valid_metric`` before stopping (0 = never stop).
        min_epochs: no early stop before this many epochs (a model that starts below its first
            validation score, e.g. LightGCN near a popularity optimum, gets time to climb out).
        checkpoint_dir: where ``last.pt`` (for resume) and ``best.pt`` are written atomically.
        resume: continue from ``checkpoint_dir/last.pt`` when it exists.
    """
    if valid is not None and validate is not None:
        raise ValueError("give valid (events) or validate (a function), not both")
    known = train.to_csr()
    if valid is not None:
        validate = _full_ranking_validation(valid, known)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    positive_keys = positive_lookup(train)
    users_all = torch.from_numpy(train.users)
    items_all = torch.from_numpy(train.items)
    history: list[dict[str, float]] = []
    best_score, best_epoch, bad_evals, start_epoch = -np.inf, 0, 0, 0
    best_state = copy.deepcopy(model.state_dict())
    last_path = checkpoint_dir / "last.pt" if checkpoint_dir else None
    if resume and last_path is not None and last_path.exists():
        state = torch.load(last_path, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        best_state, best_score = state["best_model"], state["best_score"]
        best_epoch, bad_evals, history = state["best_epoch"], state["bad_evals"], state["history"]
        start_epoch = state["epoch"] + 1
    params = {
        "model": type(model).__name__,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "num_negatives": num_negatives,
        "patience": patience,
        "min_epochs": min_epochs,
        "valid_metric": valid_metric,
        "seed": seed,
        "threads": torch.get_num_threads(),
        **_hyperparameters(model),
    }
    for callback in callbacks:
        callback.on_fit_start(params)
    train_seconds = train_cpu_seconds = 0.0
    stopped_early = False
    epoch = start_epoch - 1
    bar = tqdm(
        range(start_epoch, epochs),
        desc=type(model).__name__,
        disable=None if progress else True,  # None: tqdm turns itself off when stderr is not a terminal
        leave=False,
        mininterval=1.0,
    )
    for epoch in bar:
        rng = np.random.default_rng([seed, epoch])
        start, cpu_start = time.perf_counter(), time.process_time()
        model.train()
        order = torch.from_numpy(rng.permutation(len(train)))
        negatives = torch.from_numpy(
            sample_negatives(train.users, train.num_items, num_negatives, positive_keys, rng)
        )
        # Shuffle once per epoch; batches are then contiguous slices (no gather per step).
        users_epoch, items_epoch, negatives = users_all[order], items_all[order], negatives[order]
        total = 0.0
        for begin in range(0, len(order), batch_size):
            end = begin + batch_size
            loss = model.loss(users_epoch[begin:end], items_epoch[begin:end], negatives[begin:end])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * (min(end, len(order)) - begin)
        epoch_seconds, epoch_cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        train_seconds += epoch_seconds
        train_cpu_seconds += epoch_cpu_seconds
        logs = {
            "loss": total / len(order),
            "epoch_seconds": epoch_seconds,
            "epoch_cpu_seconds": epoch_cpu_seconds,  # process CPU time: steadier on a busy machine
        }
        if validate is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
            model.eval()
            with torch.no_grad():
                metrics = validate(model)
            if valid_metric not in metrics:
                raise ValueError(
                    f"validate returned {sorted(metrics)}, without valid_metric {valid_metric!r}"
                )
            logs.update({f"valid_{k}": v for k, v in metrics.items()})
            score = metrics[valid_metric]
            if score > best_score:
                best_score, best_epoch, bad_evals = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
                if checkpoint_dir is not None:
                    torch_save_atomic(best_state, checkpoint_dir / "best.pt")
            else:
                bad_evals += 1
        history.append({"epoch": epoch, **logs})
        bar.set_postfix(loss=f"{logs['loss']:.4f}", best=f"{best_score:.4f}")
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if last_path is not None:
            torch_save_atomic(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "best_model": best_state,
                    "best_score": best_score,
                    "best_epoch": best_epoch,
                    "bad_evals": bad_evals,
                    "history": history,
                    "epoch": epoch,
                },
                last_path,
            )
        if validate is not None and patience and bad_evals >= patience and epoch + 1 >= min_epochs:
            stopped_early = True
            break
    if validate is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = epoch
    model.eval()
    epochs_run = epoch + 1 - start_epoch
    return FitResult(
        best_epoch=best_epoch,
        best_score=float(best_score),
        epochs_run=epoch + 1,
        seconds_per_epoch=train_seconds / max(epochs_run, 1),
        cpu_seconds_per_epoch=train_cpu_seconds / max(epochs_run, 1),
        stopped_early=stopped_early,
        history=history,
    )
