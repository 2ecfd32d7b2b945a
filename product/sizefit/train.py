"""Train a ``SizeRecommender`` on fit records: features, the latent-size net, then calibration.

    recommender = train_size_fit(records, SizeFitConfig(use_reviews=True))

The last ``valid_fraction`` of each customer's purchases (time order) are held out of the
gradient steps; they stop training early and set the calibration and the macro-F1 thresholds.
All records, held-out ones included, form the history the recommender reads at prediction time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from product.sizefit.calibration import fit_calibration, fit_decision_cuts
from product.sizefit.features import FitInputs, build_feature_space, encode_labels, encode_rows
from product.sizefit.model import LatentSizeNet
from product.sizefit.recommend import SizeRecommender
from product.sizefit.reviews import embed_frame_reviews, review_fit_signals
from product.sizefit.split import split_by_customer_time

BUYERS_KEPT = 64  # buyers remembered per product and per category, for the population fallback


@dataclass
class SizeFitConfig:
    use_reviews: bool = field(default=True, metadata={"help": "read what the reviews of past purchases say"})
    hidden: int = field(default=32, metadata={"help": "hidden units of the two small MLPs"})
    dropout: float = field(default=0.1, metadata={"help": "dropout in the two small MLPs"})
    epochs: int = field(default=30, metadata={"help": "passes over the training records (cosine schedule)"})
    batch_size: int = field(default=1024, metadata={"help": "records per gradient step"})
    lr: float = field(default=2e-2, metadata={"help": "peak AdamW learning rate"})
    lr_latent: float = field(default=5e-2, metadata={"help": "peak learning rate of the product offsets"})
    weight_decay: float = field(default=1e-4, metadata={"help": "decoupled weight decay on the MLP"})
    l2_product: float = field(default=1.0, metadata={"help": "L2 on products' latent size offsets"})
    review_weight: float = field(
        default=1.0, metadata={"help": "weight of each purchase's own review as a soft label"}
    )
    class_weight_power: float = field(default=0.5, metadata={"help": "class weight = frequency^-power"})
    valid_fraction: float = field(
        default=0.1, metadata={"help": "held-out share of each customer's purchases"}
    )
    patience: int = field(default=10, metadata={"help": "epochs without validation gain before stopping"})
    seed: int = field(default=0, metadata={"help": "seed for initialisation, shuffling and the split"})


@dataclass
class TrainLog:
    epochs_run: int
    best_epoch: int
    valid_loss: list[float]


def class_weights(y: torch.Tensor, power: float) -> torch.Tensor:
    """(3,) weights proportional to frequency^-power, with a weighted mean of one over y."""
    freq = torch.bincount(y, minlength=3).float().clamp_min(1) / len(y)
    weight = freq.pow(-power)
    return weight / (weight * freq).sum()


def _buyers(groups: np.ndarray, customer: np.ndarray, num_groups: int) -> np.ndarray:
    """(num_groups + 1, K) the last K distinct customers per group (row 0 = every group), -1 padded."""
    table = np.full((num_groups + 1, BUYERS_KEPT), -1, dtype=np.int64)
    frame = pd.DataFrame({"g": groups, "c": customer})
    for g, members in frame.drop_duplicates(keep="last").groupby("g")["c"]:
        kept = members.to_numpy()[-BUYERS_KEPT:]
        table[g, : len(kept)] = kept
    everyone = pd.unique(customer[::-1])[:BUYERS_KEPT]
    table[0, : len(everyone)] = everyone
    return table


def train_size_fit(
    records: pd.DataFrame,
    config: SizeFitConfig,
    review_vectors: np.ndarray | None = None,
    has_review: np.ndarray | None = None,
) -> tuple[SizeRecommender, TrainLog]:
    """Train on canonical fit records (``product.sizefit.records.COLUMNS``).

    Returns the recommender and a log of the held-out loss per epoch.

    Args:
        records: the shop's purchases with fit feedback.
        config: hyperparameters.
        review_vectors, has_review: precomputed ``reviews.embed_frame_reviews(records)``; computed
            here when reviews are used and these are None.
    """
    if len(records) < 10:
        raise ValueError(f"need at least 10 records to train, got {len(records)}")
    return _train(records.reset_index(drop=True), config, review_vectors, has_review)


def _train(
    records: pd.DataFrame,
    config: SizeFitConfig,
    review_vectors: np.ndarray | None,
    has_review: np.ndarray | None,
) -> tuple[SizeRecommender, TrainLog]:
    torch.manual_seed(config.seed)
    y = encode_labels(records)
    signals = None
    if config.use_reviews:
        if review_vectors is None:
            review_vectors, has_review = embed_frame_reviews(records)
        signals = review_fit_signals(review_vectors, has_review, y.numpy(), seed=config.seed)

    space = build_feature_space(records, signals)
    x = encode_rows(space, records, self_rows=np.arange(len(records)))
    train_part, valid_part = split_by_customer_time(records, config.valid_fraction, seed=config.seed)
    train_index = torch.tensor(train_part.index.to_numpy())
    valid_index = torch.tensor(valid_part.index.to_numpy())
    if len(valid_index) < 3 or len(torch.unique(y[valid_index])) < 2:
        raise ValueError(f"too few held-out records ({len(valid_index)}) to calibrate; give more records")

    net_args = {
        "num_products": len(space.products),
        "num_categories": len(space.categories),
        "num_body_types": len(space.body_types),
        "num_profile": x.profile.shape[1],
        "num_product_dense": space.num_product_dense,
        "review_dim": space.review_dim,
        "hidden": config.hidden,
        "dropout": config.dropout,
    }
    net = LatentSizeNet(**net_args)
    weight = class_weights(y[train_index], config.class_weight_power)
    target = torch.from_numpy(signals[:, :3]) if signals is not None else None
    log = fit_net(net, x, y, target, train_index, valid_index, weight, config)

    net.eval()
    with torch.no_grad():
        z_valid = net.score(x.select(valid_index)).numpy()
        cuts = tuple(net.cut_points().tolist())
    y_valid = y[valid_index].numpy()
    customer = x.customer.numpy()
    recommender = SizeRecommender(
        net=net,
        space=space,
        calibration=fit_calibration(z_valid, y_valid, cuts),
        cuts=fit_decision_cuts(z_valid, y_valid),
        product_buyers=_buyers(x.product.numpy(), customer, len(space.products)),
        category_buyers=_buyers(x.category.numpy(), customer, len(space.categories)),
        net_args=net_args,
    )
    return recommender, log


def fit_net(
    net: LatentSizeNet,
    x: FitInputs,
    y: torch.Tensor,
    review_target: torch.Tensor | None,
    train_index: torch.Tensor,
    valid_index: torch.Tensor,
    weight: torch.Tensor,
    config: SizeFitConfig,
) -> TrainLog:
    """Mini-batch AdamW on a cosine schedule; keeps the weights with the best held-out weighted NLL
    and stops early when it has not improved for ``patience`` epochs."""
    latent = [net.product_offset.weight]  # regularised by the loss's own L2
    others = [p for p in net.parameters() if all(p is not q for q in latent)]
    optimizer = torch.optim.AdamW(
        [
            # A product's offset gets a few steps per epoch: Adam's step-size cap needs a larger
            # rate for it to travel as far as real sizing offsets spread.
            {"params": latent, "weight_decay": 0.0, "lr": config.lr_latent},
            {"params": others, "weight_decay": config.weight_decay, "lr": config.lr},
        ],
    )
    steps = config.epochs * -(-len(train_index) // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(config.seed)
    x_valid, y_valid = x.select(valid_index), y[valid_index]
    best_loss, best_state, best_epoch, history = float("inf"), copy.deepcopy(net.state_dict()), 0, []
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = train_index[torch.randperm(len(train_index), generator=generator)]
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            target = review_target[batch] if review_target is not None else None
            loss = net.loss(
                x.select(batch), y[batch], weight, config.l2_product, target, config.review_weight
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        net.eval()
        with torch.no_grad():
            valid_loss = torch.nn.functional.nll_loss(net.log_proba(x_valid), y_valid, weight=weight).item()
        history.append(valid_loss)
        if valid_loss < best_loss - 1e-4:
            best_loss, best_state, best_epoch = valid_loss, copy.deepcopy(net.state_dict()), epoch
        elif epoch - best_epoch >= config.patience:
            break
    net.load_state_dict(best_state)
    return TrainLog(epochs_run=len(history), best_epoch=best_epoch, valid_loss=history)
