"""Two-stage ranking on ML-1M: four retrievers propose candidates, LightGBM LambdaRank re-ranks them.

Protocol: ML-1M ratings >= 3, per-user random 80/10/10 seed 2026 (``benchmarks.recsys.load_split``).
Retrievers (saved ``Recommender`` folders under ALIGNREC_HOME/bench/rerank, trained once with their
benchmarks/recsys.py configurations on train only, early stopping on valid NDCG@10): LightGCN
(lightgcn-neg4), BPR (bpr-neg4), ItemKNN (k 100), popularity. Candidates come from each one's
``recommend_batch`` (exact scores). The shared ML-1M copy has no timestamps, so there is no
recency feature and no time-ordered holdout: the ranker's labels are the validation interactions
(never seen by the retrievers), on candidates with train items excluded; validation users are
split 80/20 (seed 2026) into users the ranker is fitted on and users it is tuned on (early stopping
on NDCG@10, and the choice among the configurations in ``RANKER_CONFIGS``). Test: candidates with
train+valid excluded, re-ranked, evaluated by ``recsys.evaluate.evaluate_scores`` exactly as
benchmarks/recsys.py does (full ranking, train+valid masked; every test user, a test item that is
not among the candidates counts as a miss). Single retrievers are evaluated by the same function
on their full scores. Costs are seconds per 1,000 test users on one thread (batches of 1,000), and
the latency of ``TwoStageRanker.rank`` one user at a time.

    python -m benchmarks.rerank                  # trains missing retrievers first (LightGCN ~15-30 min)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from alignrec.settings import home_dir, require_data
from benchmarks.results_io import write_results

CACHE = "bench/rerank"  # under ALIGNREC_HOME (.alignrec): one saved Recommender folder per retriever
SEED = 2026
# Retrievers and their benchmarks/recsys.py configurations (ML-1M), in feature order.
RETRIEVERS = {"lightgcn": "lightgcn-neg4", "bpr": "bpr-neg4", "itemknn": "itemknn", "pop": "pop"}
DEPTHS = {"lightgcn": 100, "bpr": 50, "itemknn": 50, "pop": 20}
# LightGBM settings tried; the one with the best NDCG@10 on the tuning users is kept.
RANKER_CONFIGS = [
    {"num_leaves": 63, "learning_rate": 0.05, "min_child_samples": 50},
    {"num_leaves": 255, "learning_rate": 0.05, "min_child_samples": 100},
]
BATCH = 1000


def machine() -> dict:
    cpu = platform.processor()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": cpu, "load_average": round(os.getloadavg()[0], 2)}


def train_retriever(name: str, split, folder: Path) -> None:
    """Train one retriever with its benchmarked configuration; saved to ``folder/recommender``."""
    from benchmarks.recsys import CONFIGS
    from recsys.experiment import TrainConfig, run_experiment

    params = dict(CONFIGS["ml-1m"][RETRIEVERS[name]])
    config = TrainConfig(model=str(params.pop("model", name)), dim=64, seed=SEED, **params)  # type: ignore[arg-type]
    start = time.perf_counter()
    result = run_experiment(split, config, out_dir=folder, progress=False)
    print(
        f"{name}: trained in {time.perf_counter() - start:.0f} s, best epoch {result.best_epoch + 1}, "
        f"test ndcg@10 {result.metrics['ndcg@10']:.4f}",
        flush=True,
    )


def load_retrievers(split) -> dict:
    from recsys.recommender import Recommender

    retrievers = {}
    for name in RETRIEVERS:
        folder = home_dir() / CACHE / name
        if not (folder / "recommender" / "manifest.json").is_file():
            print(f"{name}: training (load average {os.getloadavg()[0]:.1f})", flush=True)
            train_retriever(name, split, folder)
        retrievers[name] = Recommender.load(folder / "recommender")
        if retrievers[name].protocol.get("split_checksum") != split.checksum:
            raise ValueError(f"{folder}: trained on another split; delete the folder to retrain")
    return retrievers


def movie_content(item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(I, 18) genres and (I,) years of the ML-1M items (re-coded ``item_idx`` ids); zero for the
    95 items whose MovieID is ambiguous in the shared data."""
    from recsys.movie_catalog import item_content, read_item_idx_map, read_ml1m_movies

    catalog = read_ml1m_movies(require_data("ml-1m/movies.dat"))
    to_movie = read_item_idx_map(require_data("ml-1m/item_idx_to_movie_id.csv"))
    movies = [to_movie.get(int(i)) for i in item_ids]
    _, genres = item_content(catalog, movies)
    year_of = dict(zip(catalog.movie_ids.tolist(), catalog.years.tolist(), strict=True))
    years = np.array([year_of[m] if m is not None else 0 for m in movies], dtype=np.float32)
    return genres, years


def batches(users: np.ndarray):
    for begin in range(0, len(users), BATCH):
        yield users[begin : begin + BATCH]


def main() -> None:
    import torch

    from benchmarks.recsys import load_split
    from recsys.candidates import candidate_labels, retrieve
    from recsys.evaluate import evaluate_scores
    from recsys.metrics import ndcg_at_k
    from recsys.ranking_features import build_tables, candidate_features, feature_names
    from recsys.rerank import TwoStageRanker, fit_ranker, flatten

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads for retriever training and LightGBM fitting"
    )
    parser.add_argument("--latency-users", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    split = load_split("ml-1m")
    retrievers = load_retrievers(split)
    torch.set_num_threads(1)  # everything below is measured on one thread
    sources = tuple(RETRIEVERS)
    names = feature_names(sources)
    train, valid, test = split.train.to_csr(), split.valid.to_csr(), split.test.to_csr()
    train.data[:] = 1.0
    genres, years = movie_content(retrievers["lightgcn"].item_ids)
    tables = build_tables(split.train, genres, years, retrievers["lightgcn"].model.item_vectors().numpy())
    depths = tuple(DEPTHS[s] for s in sources)

    def stage(users, exclude_train_only: bool, relevant):
        """Candidates, (Q, C, F) features and (Q, C) labels of ``users``, in batches."""
        parts = []
        for batch in batches(users):
            exclude = [train[u].indices for u in batch] if exclude_train_only else None
            found = retrieve(retrievers, DEPTHS, batch, exclude=exclude, exclude_known=not exclude_train_only)
            features = candidate_features(found, tables, train)
            parts.append((found, features, candidate_labels(found, relevant)))
        return parts

    # ----- fit and tune on validation labels -----
    start = time.perf_counter()
    valid_users = np.flatnonzero(np.diff(valid.indptr) > 0)
    rng = np.random.default_rng(SEED)
    tune_users = np.sort(rng.choice(valid_users, size=len(valid_users) // 5, replace=False))
    fit_users = np.setdiff1d(valid_users, tune_users)
    fit_parts = stage(fit_users, True, valid)
    tune_parts = stage(tune_users, True, valid)
    fitting_data_seconds = time.perf_counter() - start
    print(f"validation candidates and features: {fitting_data_seconds:.0f} s", flush=True)

    def stack(parts):
        x, y, g = zip(*(flatten(f, lab, c.mask) for c, f, lab in parts), strict=True)
        return np.concatenate(x), np.concatenate(y), np.concatenate(g)

    fit_data, tune_data = stack(fit_parts), stack(tune_parts)
    print(
        f"fit rows {len(fit_data[0])} ({len(fit_data[2])} users), tune rows {len(tune_data[0])}", flush=True
    )

    def tune_ndcg(ranker: TwoStageRanker) -> float:
        """NDCG@10 on the tuning users, every valid item in the denominator."""
        values = []
        for found, features, labels in tune_parts:
            scores = ranker.predict(features, found.mask)
            order = np.argsort(-scores, axis=1, kind="stable")[:, :10]
            hits = np.take_along_axis(labels, order, axis=1) > 0
            values.append(ndcg_at_k(hits, np.diff(valid.indptr)[found.users], 10))
        return float(np.concatenate(values).mean())

    trials = []
    for config in RANKER_CONFIGS:
        start = time.perf_counter()
        fitted = fit_ranker(fit_data, tune_data, names=names, seed=SEED, threads=args.threads, **config)
        ranker = TwoStageRanker(fitted.booster_, sources, depths, tables)
        trials.append((tune_ndcg(ranker), config, ranker, time.perf_counter() - start))
        print(
            f"ranker {config}: {ranker.best_iteration} rounds, tune ndcg@10 {trials[-1][0]:.4f}, "
            f"{trials[-1][3]:.0f} s",
            flush=True,
        )
    tune_score, config, ranker, fit_seconds = max(trials, key=lambda t: t[0])
    lightgcn_tune = []
    for found, _, labels in tune_parts:  # LightGCN's own order of the same candidates
        order = np.argsort(found.ranks[..., 0] + (~found.mask) * 1e9, axis=1, kind="stable")[:, :10]
        hits = np.take_along_axis(labels, order, axis=1) > 0
        lightgcn_tune.append(ndcg_at_k(hits, np.diff(valid.indptr)[found.users], 10))
    lightgcn_tune_score = float(np.concatenate(lightgcn_tune).mean())
    ranker.info = {
        "protocol": "ml-1m rating>=3; per-user random 80/10/10 seed 2026; labels: valid items",
        "config": config,
        "rounds": ranker.best_iteration,
        "tune_ndcg@10": round(tune_score, 4),
        "split_checksum": split.checksum,
    }
    ranker.save(home_dir() / CACHE / "ranker")
    gain = ranker.booster.feature_importance("gain", iteration=ranker.best_iteration)
    importance = {
        n: round(float(g) / float(gain.sum()), 4)
        for n, g in sorted(zip(names, gain, strict=True), key=lambda t: -t[1])
    }
    print("feature gain share:", importance, flush=True)

    # ----- test: stage costs per 1,000 users, then the evaluator -----
    test_users = np.flatnonzero(np.diff(test.indptr) > 0)
    seconds = {"candidates": 0.0, "features": 0.0, "lightgbm": 0.0}
    ranked = np.full((train.shape[0], 20), -1, dtype=np.int64)
    recall_sources = {s: [] for s in (*sources, "union")}
    for batch in batches(test_users):
        t0 = time.perf_counter()
        found = retrieve(retrievers, DEPTHS, batch)
        t1 = time.perf_counter()
        features = candidate_features(found, tables, train)
        t2 = time.perf_counter()
        scores = ranker.predict(features, found.mask)
        t3 = time.perf_counter()
        seconds["candidates"] += t1 - t0
        seconds["features"] += t2 - t1
        seconds["lightgbm"] += t3 - t2
        order = np.argsort(-scores, axis=1, kind="stable")[:, :20]
        top = np.take_along_axis(found.items, order, axis=1)
        ranked[batch, : top.shape[1]] = np.where(
            np.isfinite(np.take_along_axis(scores, order, axis=1)), top, -1
        )
        labels = candidate_labels(found, test)
        num_relevant = np.diff(test.indptr)[batch]
        proposed = found.proposed()
        for s, name in enumerate(sources):
            recall_sources[name].append((labels * proposed[..., s]).sum(1) / num_relevant)
        recall_sources["union"].append(labels.sum(1) / num_relevant)
    per_1000 = {f"{k}_s_per_1000_users": round(v * 1000 / len(test_users), 3) for k, v in seconds.items()}
    candidate_recall = {s: round(float(np.concatenate(v).mean()), 4) for s, v in recall_sources.items()}
    print("test stage seconds per 1000 users:", per_1000, "candidate recall:", candidate_recall, flush=True)

    known = (split.train.to_csr() + valid).tocsr()

    def list_scores(users: np.ndarray) -> np.ndarray:
        """The re-ranked lists as full-ranking scores: position scores, -inf off the list."""
        out = np.full((len(users), train.shape[1]), -np.inf, dtype=np.float32)
        lists = ranked[users]
        rows = np.repeat(np.arange(len(users)), lists.shape[1]).reshape(lists.shape)
        position = np.broadcast_to(np.arange(lists.shape[1], 0, -1, dtype=np.float32), lists.shape)
        keep = lists >= 0
        out[rows[keep], lists[keep]] = position[keep]
        return out

    protocol = (
        "ml-1m rating>=3; per-user random 80/10/10 seed 2026; full ranking, train+valid masked; "
        "all test users (candidate misses count as misses)"
    )
    keys = ("ndcg@10", "recall@10", "recall@20", "ndcg@20", "hit@10")
    records = []
    for name in sources:
        recommender = retrievers[name]
        result = evaluate_scores(
            lambda u, r=recommender: r.model.scores(torch.from_numpy(u)), split.test, known
        )
        records.append(
            {
                "model": name,
                "dataset": "ml-1m",
                "protocol": protocol,
                **{k: round(result.metrics[k], 4) for k in keys},
                "candidate_depth": DEPTHS[name],
                "candidate_recall": candidate_recall[name],
                "users": result.num_users,
                **machine(),
            }
        )
    result = evaluate_scores(list_scores, split.test, known)
    best_single = max(r["ndcg@10"] for r in records)
    two_stage = {
        "model": "two-stage (" + " + ".join(f"{s} {DEPTHS[s]}" for s in sources) + ") + lambdarank",
        "dataset": "ml-1m",
        "protocol": protocol + "; ranker fitted on valid labels of 80% of valid users, tuned on 20%",
        **{k: round(result.metrics[k], 4) for k in keys},
        "candidate_depth": sum(DEPTHS.values()),
        "candidate_recall": candidate_recall["union"],
        "users": result.num_users,
        "gain_over_best_single": round(result.metrics["ndcg@10"] / best_single - 1, 4),
        "tune_ndcg@10": round(tune_score, 4),
        "tune_ndcg@10_lightgcn_order": round(lightgcn_tune_score, 4),
        "ranker_rounds": ranker.best_iteration,
        "ranker_config": json.dumps(config),
        "ranker_fit_s": round(fit_seconds, 1),
        **per_1000,
        "total_s_per_1000_users": round(sum(seconds.values()) * 1000 / len(test_users), 3),
        **machine(),
    }

    # ----- one request at a time, as the service calls it -----
    sample = np.random.default_rng(SEED).choice(
        test_users, size=min(args.latency_users, len(test_users)), replace=False
    )
    ranker.rank(retrievers, int(sample[0]), 10)  # warm caches
    latencies = []
    for user in sample:
        t0 = time.perf_counter()
        ranker.rank(retrievers, int(user), 10)
        latencies.append(time.perf_counter() - t0)
    ms = np.asarray(latencies) * 1000
    two_stage.update(
        {
            "rank_p50_ms": round(float(np.percentile(ms, 50)), 3),
            "rank_p99_ms": round(float(np.percentile(ms, 99)), 3),
        }
    )
    records.append(two_stage)
    print(json.dumps(two_stage), flush=True)
    notes = (
        __doc__.split("\n\n")[1]
        + "\n\nFeature gain shares of the kept ranker: "
        + ", ".join(f"{k} {v:.3f}" for k, v in importance.items())
        + "."
    )
    write_results(
        "rerank",
        records,
        title="Two-stage ranking on ML-1M: merged retrievers + LightGBM LambdaRank",
        notes=notes,
    )


if __name__ == "__main__":
    main()
