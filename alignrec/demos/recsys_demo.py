"""Demo step: recommenders from an interaction log, evaluated, tracked and indexed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from alignrec.commands.recsys import print_results
from recsys.experiment import RECOMMENDER_DIR, TrainConfig, run_experiment
from recsys.recommender import Recommender
from recsys.splits import random_split, save_split, with_protocol
from recsys.synthetic import make_interactions
from recsys.tracking import MlflowCallback


def run(out: Path, console: Console) -> None:
    # Models this small gain nothing from a second thread, and on a busy 2-core machine two
    # OpenMP threads per process made this step 10x slower (18 s -> 188 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _run(out, console)
    finally:
        torch.set_num_threads(threads)


def _run(out: Path, console: Console) -> None:
    data, _ = make_interactions(num_users=1000, num_items=400, events_per_user=25, seed=2026)
    split = with_protocol(random_split(data, (0.8, 0.1, 0.1), seed=2026), dataset="synthetic-1000x400")
    save_split(split, out / "split.npz")
    console.print(f"Synthetic log with planted taste clusters and popularity skew: {split.describe()}")
    tracking_uri = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    results = []
    for name in ("pop", "itemknn", "bpr", "lightgcn", "cml"):
        config = TrainConfig(model=name, dim=32, epochs=30, lr=5e-3, batch_size=1024, patience=5)
        tracker = MlflowCallback("alignrec-demo", run_name=name, tracking_uri=tracking_uri)
        result = run_experiment(split, config, out / name, callbacks=[tracker], progress=False)
        results.append(result)
    print_results(results)
    console.print(f"MLflow runs: experiment 'alignrec-demo' at {tracking_uri}")
    console.print(f"  browse them with: mlflow ui --backend-store-uri {tracking_uri}")

    recommender = Recommender.load(out / "lightgcn" / RECOMMENDER_DIR)
    users = np.arange(len(recommender.user_ids))
    exact, _ = recommender.recommend_batch(users, 10)
    recommender.attach_index("HNSW32")
    recommender.index.save(out / "index")
    ann, _ = recommender.recommend_batch(users, 10)
    overlap = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ann, exact, strict=True)])
    console.print(f"FAISS HNSW32 index over {len(recommender.item_ids)} LightGCN item vectors saved to "
                  f"{out / 'index'}; recall@10 of the index path against exact scoring: {overlap:.3f}")
    recommender.save(out / "lightgcn-with-index")
    served = Recommender.load(out / "lightgcn-with-index")
    user = recommender.user_ids[0]
    answer = served.recommend(user, 5)
    console.print(f"Top 5 for user {user} ({answer.source}): {', '.join(answer.items)}")
    cold = served.recommend("new-visitor", 5, recent_items=answer.items[:2])
    console.print(f"Top 5 for an unknown visitor who just viewed {answer.items[:2]} ({cold.source}): "
                  f"{', '.join(cold.items)}")
    similar = ", ".join(item for item, _ in served.similar_items(answer.items[0], 5))
    console.print(f"Similar to {answer.items[0]}: {similar}")
    console.print(f"  try: alignrec recommend --run {out} -m lightgcn --user {user}")
