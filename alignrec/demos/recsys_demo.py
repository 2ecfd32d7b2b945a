"""Demo step: recommenders from an interaction log, evaluated, tracked and indexed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from alignrec.commands.recsys import print_results
from recsys.evaluate import top_k
from recsys.experiment import TrainConfig, run_experiment
from recsys.index import ItemIndex
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

    recommender = Recommender.load(out / "lightgcn" / "recommender.pt")
    items = recommender.model.item_vectors().numpy()
    users = recommender.model.user_vectors().numpy()
    index = ItemIndex.build(items, metric="ip", factory="HNSW32", item_ids=recommender.item_ids)
    index.save(out / "index")
    _, ann = index.search(users, 10, exclude=recommender.known)
    exact, _ = top_k(lambda u: recommender.model.scores(torch.from_numpy(u)), np.arange(len(users)), 10,
                     recommender.known)
    overlap = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ann, exact, strict=True)])
    console.print(f"FAISS HNSW32 index over {len(items)} LightGCN item vectors saved to {out / 'index'}; "
                  f"recall@10 against exact search: {overlap:.3f}")
    user = recommender.user_ids[0]
    top = ", ".join(item for item, _ in recommender.recommend(user, 5))
    console.print(f"Top 5 for user {user}: {top}")
    console.print(f"  try: alignrec recommend --run {out} -m lightgcn --user {user}")
