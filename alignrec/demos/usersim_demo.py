"""Demo step "usersim": user simulators measured on what (synthetic) users really chose next.

Holds out each sampled user's last event, shows it among popularity-sampled negatives (protocol 1
of ``simulators.users``), and compares simulators that choose at random, by popularity and by a
trained BPR-MF's scores; then tunes ItemKNN's neighbourhood on validation with ``recsys.tuning``
(a few trials) and uses the tuned model as a simulator too.
"""

from __future__ import annotations

from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from recsys.experiment import TrainConfig
from recsys.models.bpr import BPR
from recsys.models.itemknn import ItemKNN
from recsys.recommender import Recommender
from recsys.splits import random_split
from recsys.synthetic import make_interactions
from recsys.train import fit
from recsys.tuning import tune
from simulators.users import (
    PopularityUser,
    RandomUser,
    RecommenderUser,
    evaluate_simulator,
    heldout_split,
    popularity_exposures,
)


def run(out: Path, console: Console) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)  # tiny models: a second thread only contends
    log, _ = make_interactions(num_users=600, num_items=300, events_per_user=25, seed=2026)
    held = heldout_split(log, num_users=300, min_events=11, seed=2026)
    exposures = popularity_exposures(log, held, n=5, history=10, seed=2026)
    train = held.train
    console.print(
        f"{len(exposures)} held-out users; each sees their real next item among 4 popular negatives"
    )

    torch.manual_seed(2026)
    bpr_model = BPR(train.num_users, train.num_items, dim=32)
    fit(bpr_model, train, epochs=30, lr=0.01, batch_size=1024, num_negatives=4, progress=False)
    bpr = Recommender(bpr_model, train.to_csr(), train.user_ids, train.item_ids)
    search = tune(
        random_split(train, (0.9, 0.1, 0.0), seed=2026),
        TrainConfig(model="itemknn"),
        trials=5,
        seed=2026,
        progress=False,
    )
    console.print(
        f"ItemKNN tuned on validation in 5 trials: k = {search.best_params['knn_k']} "
        f"(valid NDCG@10 {search.best_valid:.4f})"
    )
    knn = Recommender(
        ItemKNN(train, k=int(search.best_params["knn_k"])), train.to_csr(), train.user_ids, train.item_ids
    )
    table = Table(title="Choosing the real next item among 5 (protocol 1)")
    for column in ("simulator", "accuracy", "mean p(true)", "largest position gap", "decisions/s"):
        table.add_column(column, justify="right" if column != "simulator" else "left")
    for simulator in (
        RandomUser(),
        PopularityUser(bpr),
        RecommenderUser(knn, name="itemknn (tuned)"),
        RecommenderUser(bpr, name="bpr-mf"),
    ):
        m = evaluate_simulator(simulator, exposures)
        table.add_row(
            simulator.name,
            f"{m['accuracy']:.3f}",
            f"{m['sampled_accuracy']:.3f}",
            f"{m['max_position_gap']:.3f}",
            f"{m['decisions_per_s']:,.0f}",
        )
    console.print(table)
    console.print("[dim]Real data and the language-model simulator: python -m benchmarks.usersim[/dim]")
