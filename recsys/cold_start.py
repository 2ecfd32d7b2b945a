"""Cold-start items: hold out a share of the items entirely and rank them from content alone.

Protocol (``cold_item_split``): items are shuffled with a seed; ``cold_fraction`` of them become
cold test items and ``valid_fraction`` cold validation items; every event on a cold item leaves
training. Item ids are re-ordered so that the W warm items come first (0..W-1), then the cold
validation items, then the cold test items, and ``train`` has ``num_items = W``: the training loop
then never even samples a cold item as a negative, so nothing about cold items leaks into
training. Models are built over all items (their content covers every item) and evaluated by
ranking, for each user with events on cold test items, only the cold test items
(``evaluate_cold``); nothing needs masking since no cold item was seen in training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch

from recsys.data import Interactions
from recsys.evaluate import EvalResult, evaluate_scores
from recsys.train import fit


@dataclass(frozen=True)
class ColdSplit:
    """Warm training events and cold validation/test events over re-ordered item ids."""

    train: Interactions  # num_items = number of warm items
    valid: Interactions  # events on cold validation items; num_items = all items
    test: Interactions  # events on cold test items; num_items = all items
    item_order: np.ndarray  # (I,) new id -> old id, so features[item_order] follows the new ids
    valid_items: np.ndarray  # new ids of the cold validation items
    test_items: np.ndarray  # new ids of the cold test items
    protocol: dict[str, object]

    @property
    def num_items(self) -> int:
        return len(self.item_order)

    @property
    def num_warm(self) -> int:
        return self.train.num_items

    def train_matrix(self) -> sp.csr_matrix:
        """(U, I) training matrix over all items (cold columns empty), for graph models."""
        return replace(self.train, num_items=self.num_items).to_csr()


def cold_item_split(
    data: Interactions, cold_fraction: float = 0.2, valid_fraction: float = 0.1, seed: int = 2026
) -> ColdSplit:
    """Hold out ``round(cold_fraction * I)`` items for test and ``round(valid_fraction * I)`` for
    validation, chosen uniformly at random with ``seed``; all their events leave training."""
    if not (0 < cold_fraction < 1 and 0 <= valid_fraction < 1 and cold_fraction + valid_fraction < 1):
        raise ValueError(
            f"need 0 < cold_fraction, 0 <= valid_fraction, sum < 1; got {cold_fraction}, {valid_fraction}"
        )
    num_items = data.num_items
    shuffled = np.random.default_rng(seed).permutation(num_items)
    n_test, n_valid = round(cold_fraction * num_items), round(valid_fraction * num_items)
    test_old, valid_old = shuffled[:n_test], shuffled[n_test : n_test + n_valid]
    warm_old = np.sort(shuffled[n_test + n_valid :])
    item_order = np.concatenate([warm_old, np.sort(valid_old), np.sort(test_old)])
    new_id = np.empty(num_items, dtype=np.int64)
    new_id[item_order] = np.arange(num_items)
    items = new_id[data.items]
    num_warm = len(warm_old)
    valid_start, test_start = num_warm, num_warm + n_valid
    remapped = replace(
        data,
        items=items,
        item_ids=None if data.item_ids is None else data.item_ids[item_order],
        stats={},
    )
    train = remapped.subset(items < valid_start)
    train = replace(
        train, num_items=num_warm, item_ids=None if train.item_ids is None else train.item_ids[:num_warm]
    )
    protocol = {
        "split": "cold items",
        "seed": seed,
        "cold_test_items": n_test,
        "cold_valid_items": n_valid,
        "warm_items": num_warm,
        "candidates": f"the {n_test} cold test items only",
    }
    return ColdSplit(
        train=train,
        valid=remapped.subset((items >= valid_start) & (items < test_start)),
        test=remapped.subset(items >= test_start),
        item_order=item_order,
        valid_items=np.arange(valid_start, test_start),
        test_items=np.arange(test_start, num_items),
        protocol=protocol,
    )


def evaluate_cold(
    score_fn: Callable[[np.ndarray], np.ndarray | torch.Tensor],
    split: ColdSplit,
    part: str = "test",
    ks: tuple[int, ...] = (10, 20),
) -> EvalResult:
    """Rank only the cold items of ``part`` ("test" or "valid") for each user who has events on them."""
    events, candidates = (
        (split.test, split.test_items) if part == "test" else (split.valid, split.valid_items)
    )
    return evaluate_scores(score_fn, events, None, ks, candidates=candidates, protocol=split.protocol)


def fit_cold(
    model: torch.nn.Module,
    split: ColdSplit,
    *,
    epochs: int,
    eval_every: int = 5,
    patience: int = 4,
    valid_metric: str = "ndcg@20",
    **fit_kwargs: object,
) -> dict[str, object]:
    """Train on the warm events with ``recsys.train.fit``, selecting the epoch on the cold
    validation items (ranked among themselves) rather than on warm validation events; the best
    parameters by ``valid_metric`` are restored at the end."""

    def validate(trained: torch.nn.Module) -> dict[str, float]:
        return evaluate_cold(lambda u: trained.scores(torch.from_numpy(u)), split, "valid").metrics

    result = fit(
        model,
        split.train,
        validate=validate,
        epochs=epochs,
        eval_every=eval_every,
        patience=patience,
        valid_metric=valid_metric,
        progress=False,
        **fit_kwargs,
    )
    history = [
        {"epoch": row["epoch"] + 1, f"valid_{valid_metric}": row[f"valid_{valid_metric}"]}
        for row in result.history
        if f"valid_{valid_metric}" in row
    ]
    return {"best_epoch": result.best_epoch + 1, "best_valid": result.best_score, "history": history}


def content_knn_scores(train: Interactions, features: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Training-free content baseline: cosine between each item's feature and the mean feature of
    the user's training items. ``features``: (I, F) over all items (new ids)."""
    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)  # (I, F)
    matrix = replace(train, num_items=len(features)).to_csr()  # (U, I)
    counts = np.maximum(np.asarray(matrix.sum(axis=1)).ravel(), 1)
    profiles = np.asarray(matrix @ x) / counts[:, None]  # (U, F)
    profiles /= np.maximum(np.linalg.norm(profiles, axis=1, keepdims=True), 1e-12)
    return lambda users: profiles[users] @ x.T  # (B, I)


def random_scores(num_items: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Uniformly random scores (a fresh draw per call, seeded once)."""
    rng = np.random.default_rng(seed)
    return lambda users: rng.random((len(users), num_items))
