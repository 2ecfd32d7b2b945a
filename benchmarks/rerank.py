"""LightGBM LambdaRank re-ranking of BPR candidates on ML-1M (real data from ALIGNREC_DATA_DIR).

Protocol: ML-1M ratings >= 3, per-user random 80/10/10 seed 2026 (as benchmarks/recsys.py). BPR
dim 64 is trained for ``--epochs`` epochs on train (early-stopping checks on valid, best kept). The
ranker learns on valid: for each user, BPR's top ``--candidates`` items with train items excluded,
labelled 1 when in the user's valid items. It is then applied to test: BPR's top candidates with
train and valid items excluded, labelled by test items. Features: BPR score, BPR rank, log item
popularity (train), log user activity (train). Metrics: NDCG@10 / Recall@10 over test users with at
least one test item, the denominator being all of the user's test items (candidate misses count as
misses), so "BPR order" equals BPR's full-ranking result.

    python -m benchmarks.rerank --epochs 20 --candidates 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.results_io import write_results


def main() -> None:
    import faiss
    import torch

    from benchmarks.recsys import load_split
    from recsys.experiment import TrainConfig, build_model
    from recsys.index import build_index, search
    from recsys.metrics import ndcg_at_k, recall_at_k
    from recsys.rerank import candidate_features, candidate_labels, fit_ranker, rerank
    from recsys.train import fit

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)

    split = load_split("ml-1m")
    train, valid, test = split.train.to_csr(), split.valid.to_csr(), split.test.to_csr()
    torch.manual_seed(2026)
    model = build_model(TrainConfig(model="bpr", dim=64, seed=2026), split)
    start = time.perf_counter()
    fit(model, split.train, valid=split.valid, epochs=args.epochs, lr=2e-3, batch_size=4096, patience=0,
        seed=2026, progress=False)
    print(f"bpr: {args.epochs} epochs in {time.perf_counter() - start:.0f} s", flush=True)
    index = build_index(model.item_vectors().detach().numpy(), "ip", "Flat")
    user_vectors = model.user_vectors().detach().numpy()
    popularity = np.asarray(train.sum(axis=0)).ravel()  # (I,)
    activity = np.diff(train.indptr)  # (U,)

    def candidates_for(relevant, known):
        users = np.flatnonzero(np.diff(relevant.indptr) > 0)
        scores, items = search(index, user_vectors[users], args.candidates, exclude=known[users])
        features = candidate_features(items, scores, popularity, activity[users])
        return users, items, features, candidate_labels(items, relevant[users])

    _, _, valid_features, valid_labels = candidates_for(valid, train)
    start = time.perf_counter()
    ranker = fit_ranker(valid_features, valid_labels, num_rounds=args.rounds, seed=2026)
    fit_seconds = time.perf_counter() - start
    known = (train + valid).tocsr()
    users, items, features, labels = candidates_for(test, known)
    reranked, _ = rerank(ranker, features, items)
    num_relevant = np.diff(test.indptr)[users]
    dense = test[users].toarray() > 0  # (U, I)
    protocol = (
        f"ml-1m rating>=3; per-user random 80/10/10 seed 2026; BPR dim 64 {args.epochs} epochs; "
        f"top {args.candidates} candidates (train+valid excluded); ranker trained on valid labels"
    )
    records = []
    for name, ranked in (("bpr order", items), ("bpr + lambdarank", reranked)):
        hits = np.take_along_axis(dense, ranked, axis=1)
        record = {
            "model": name,
            "dataset": "ml-1m",
            "protocol": protocol,
            "ndcg@10": round(float(ndcg_at_k(hits, num_relevant, 10).mean()), 4),
            "recall@10": round(float(recall_at_k(hits, num_relevant, 10).mean()), 4),
            "ndcg@20": round(float(ndcg_at_k(hits, num_relevant, 20).mean()), 4),
            "recall@20": round(float(recall_at_k(hits, num_relevant, 20).mean()), 4),
            "candidate_recall": round(float((hits.sum(1) / num_relevant).mean()), 4),
            "users": len(users),
            "ranker_fit_seconds": round(fit_seconds, 2) if "lambdarank" in name else 0.0,
        }
        print(record, flush=True)
        records.append(record)
    importances = dict(zip(ranker.booster_.feature_name(), ranker.booster_.feature_importance("gain"),
                           strict=True))
    print("feature gain:", {k: round(float(v)) for k, v in importances.items()})
    write_results("rerank", records, title="LightGBM LambdaRank re-ranking of BPR candidates (ML-1M)",
                  notes=__doc__.split("\n\n")[1])


if __name__ == "__main__":
    main()
