"""FAISS index benchmark: recall against exact ranking, test quality, build and search time.

Part 1, ML-1M (real data from ALIGNREC_DATA_DIR; protocol of benchmarks/recsys.py: ratings >= 3,
per-user random 80/10/10, seed 2026). BPR (ip) and CML (l2), dim 64, are trained for a fixed,
short budget (``--epochs``); the index then serves every test user's top 10 with the user's train
and valid items excluded. Reported per factory: recall@10 against the model's exact full ranking
(same exclusion), test NDCG@10 / Recall@10 of the index's lists (test items as relevant), build
seconds and search seconds for all test users. 3,706 items is small: exact search is cheap here.

Part 2, synthetic scale: ``--items`` clustered 64-d vectors (seeded), 2,000 queries, no exclusion,
recall@10 against Flat and queries per second. Everything on one thread (``faiss.omp_set_num_threads
(1)``, ``torch.set_num_threads(1)``) on a shared 2-core machine, so timings are indicative.

    python -m benchmarks.index                     # both parts
    python -m benchmarks.index --part synthetic --items 200000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.results_io import write_results

ML1M_PROTOCOL = (
    "ml-1m rating>=3; per-user random 80/10/10 seed 2026; top 10 over all items, train+valid "
    "excluded; recall vs the model's exact ranking"
)
FACTORIES = [
    ("Flat", {}),
    ("HNSW32", {}),
    ("HNSW32", {"ef_search": 64}),
    ("IVF64,Flat", {"nprobe": 8}),
    ("IVF64,PQ16np", {"nprobe": 8}),
    ("IVF64,PQ32np", {"nprobe": 16}),
]


def _overlap(found: np.ndarray, exact: np.ndarray) -> float:
    pairs = zip(found, exact, strict=True)
    return float(np.mean([len(np.intersect1d(f[f >= 0], e)) / len(e) for f, e in pairs]))


def ml1m(epochs: int) -> list[dict]:
    import torch

    from benchmarks.recsys import load_split
    from recsys.evaluate import evaluate_scores, top_k
    from recsys.experiment import TrainConfig, build_model
    from recsys.index import build_index, search
    from recsys.metrics import ndcg_at_k, recall_at_k
    from recsys.train import fit

    split = load_split("ml-1m")
    known = (split.train.to_csr() + split.valid.to_csr()).tocsr()
    relevant = split.test.to_csr()
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    records = []
    for name, lr, batch in (("bpr", 2e-3, 4096), ("cml", 1e-3, 4096)):
        torch.manual_seed(2026)
        model = build_model(TrainConfig(model=name, dim=64, seed=2026), split)
        start = time.perf_counter()
        fit(model, split.train, valid=split.valid, epochs=epochs, lr=lr, batch_size=batch, patience=0,
            num_negatives=10 if name == "cml" else 1, seed=2026, progress=False)
        fit_seconds = time.perf_counter() - start
        def score_fn(u: np.ndarray, model=model) -> torch.Tensor:
            return model.scores(torch.from_numpy(u))

        with torch.no_grad():
            exact_metrics = evaluate_scores(score_fn, split.test, known, ks=(10,)).metrics
        print(f"{name}: {epochs} epochs in {fit_seconds:.0f} s, exact test ndcg@10 "
              f"{exact_metrics['ndcg@10']:.4f}", flush=True)
        items = model.item_vectors().detach().numpy()
        queries = model.user_vectors().detach().numpy()[users]
        start = time.perf_counter()
        exact, _ = top_k(score_fn, users, 10, known)
        exact_seconds = time.perf_counter() - start
        for factory, options in FACTORIES:
            start = time.perf_counter()
            index = build_index(items, model.metric, factory, **options)
            build_seconds = time.perf_counter() - start
            start = time.perf_counter()
            _, found = search(index, queries, 10, exclude=known[users])
            search_seconds = time.perf_counter() - start
            dense = relevant[users].toarray() > 0  # (U, I)
            hits = np.take_along_axis(dense, np.maximum(found, 0), axis=1) & (found >= 0)  # (U, 10)
            num_relevant = np.diff(relevant.indptr)[users]
            record = {
                "model": f"{name}+{factory}" + "".join(f",{k}={v}" for k, v in options.items()),
                "dataset": "ml-1m",
                "protocol": ML1M_PROTOCOL,
                "metric": model.metric,
                "train_epochs": epochs,
                "recall_vs_exact@10": round(_overlap(found, exact), 4),
                "ndcg@10": round(float(ndcg_at_k(hits, num_relevant, 10).mean()), 4),
                "recall@10": round(float(recall_at_k(hits, num_relevant, 10).mean()), 4),
                "exact_ndcg@10": round(exact_metrics["ndcg@10"], 4),
                "build_seconds": round(build_seconds, 3),
                "search_seconds": round(search_seconds, 3),
                "exact_torch_seconds": round(exact_seconds, 3),
                "queries": len(users),
                "items": len(items),
            }
            print(record, flush=True)
            records.append(record)
    return records


def synthetic(num_items: int, num_queries: int = 2000, dim: int = 64, seed: int = 0) -> list[dict]:
    from recsys.index import build_index, search

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, dim))  # overlapping clusters: not trivially separable
    items = centres[rng.integers(1000, size=num_items)] + rng.standard_normal((num_items, dim))
    queries = centres[rng.integers(1000, size=num_queries)] + rng.standard_normal((num_queries, dim))
    items, queries = items.astype(np.float32), queries.astype(np.float32)
    lists = int(4 * np.sqrt(num_items))
    factories = [
        ("Flat", {}),
        ("HNSW32", {}),
        ("HNSW32", {"ef_search": 64}),
        (f"IVF{lists},Flat", {"nprobe": 16}),
        (f"IVF{lists},PQ16np", {"nprobe": 16}),
    ]
    records, exact = [], None
    for factory, options in factories:
        start = time.perf_counter()
        index = build_index(items, "l2", factory, train_size=min(num_items, 100 * lists), **options)
        build_seconds = time.perf_counter() - start
        start = time.perf_counter()
        _, found = search(index, queries, 10)
        search_seconds = time.perf_counter() - start
        exact = found if exact is None else exact
        record = {
            "model": factory + "".join(f",{k}={v}" for k, v in options.items()),
            "dataset": f"synthetic-clustered-{num_items}x{dim}",
            "protocol": f"{num_queries} queries, l2, top 10, recall vs Flat; 1000 Gaussian clusters, "
            f"seed {seed}",
            "metric": "l2",
            "recall_vs_exact@10": round(_overlap(found, exact), 4),
            "build_seconds": round(build_seconds, 3),
            "search_seconds": round(search_seconds, 3),
            "queries_per_second": round(num_queries / search_seconds, 1),
            "queries": num_queries,
            "items": num_items,
        }
        print(record, flush=True)
        records.append(record)
    return records


def main() -> None:
    import faiss
    import torch

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["all", "ml-1m", "synthetic"], default="all")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs for BPR and CML on ML-1M")
    parser.add_argument("--items", type=int, default=200_000, help="synthetic item count")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    records = []
    if args.part in ("all", "ml-1m"):
        records += ml1m(args.epochs)
    if args.part in ("all", "synthetic"):
        records += synthetic(args.items)
    write_results("index", records, title="FAISS index: recall against exact search, quality, time",
                  notes=__doc__.split("\n\n")[1] + "\n\n" + __doc__.split("\n\n")[2])


if __name__ == "__main__":
    main()
