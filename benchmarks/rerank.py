"""Two-stage ranking on ML-1M: four retrievers propose candidates, LightGBM LambdaRank re-ranks them.

Protocol: ML-1M ratings >= 3, per-user random 80/10/10 seed 2026 (``benchmarks.recsys.load_split``).
Retrievers (saved ``Recommender`` folders under ALIGNREC_HOME/bench/rerank, trained once with their
benchmarks/recsys.py configurations on train only, early stopping on valid NDCG@10): LightGCN
(lightgcn-neg4), BPR (bpr-neg4), ItemKNN (k 100), popularity. Candidates come from each one's
``recommend_batch`` (exact scores). The shared ML-1M copy has no timestamps, so there is no
recency feature and no time-ordered holdout: the ranker's labels are the validation interactions
(never trained on by the retrievers), on candidates with train items excluded; validation users
are split 80/20 (seed 2026) into users the ranker is fitted on and users it is tuned on (early
stopping on NDCG@10, and the choice among ``RANKER_CONFIGS``). Test: candidates with train+valid
excluded, re-ranked, evaluated by ``recsys.evaluate.evaluate_scores`` exactly as benchmarks/recsys.py
does (full ranking, train+valid masked, every test user; a test item that is not among the
candidates counts as a miss). Single retrievers are evaluated by the same function on their full
scores. Two references without the full ranker: reciprocal rank fusion of the four lists (k=60, no
learning) and LambdaRank on the retrievers' features only (scores, ranks, gaps, agreement). Costs:
seconds per 1,000 test users in batches of 1,000, and ``TwoStageRanker.rank`` one user at a time,
all on one thread (torch, BLAS and LightGBM).

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
from benchmarks.results_io import RESULTS_DIR, write_results

CACHE = "bench/rerank"  # under ALIGNREC_HOME (.alignrec): one saved Recommender folder per retriever
SEED = 2026
# Retrievers and their benchmarks/recsys.py configurations (ML-1M), in feature order.
RETRIEVERS = {"lightgcn": "lightgcn-neg4", "bpr": "bpr-neg4", "itemknn": "itemknn", "pop": "pop"}
DEPTHS = {"lightgcn": 100, "bpr": 50, "itemknn": 50, "pop": 20}
# LightGBM settings tried; the one with the best NDCG@10 on the tuning users is kept.
RANKER_CONFIGS = [
    {"num_leaves": 63, "learning_rate": 0.05, "min_child_samples": 50},
    {"num_leaves": 31, "learning_rate": 0.02, "min_child_samples": 100},
]
BATCH = 1000
PROTOCOL = (
    "ml-1m rating>=3; per-user random 80/10/10 seed 2026; full ranking, train+valid masked; "
    "all test users (candidate misses count as misses)"
)
METRIC_KEYS = ("ndcg@10", "recall@10", "recall@20", "ndcg@20", "hit@10")


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
    """The four retrievers as saved Recommenders, trained first where the cache has none."""
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


def evaluate_lists(ranked: np.ndarray, split, known) -> dict:
    """``recsys.rerank_training.evaluate_lists`` as this benchmark's record fields."""
    from recsys.rerank_training import evaluate_lists as evaluate

    result = evaluate(ranked, split, known)
    return {"users": result.num_users, **{k: round(result.metrics[k], 4) for k in METRIC_KEYS}}


def rrf(found, features) -> np.ndarray:
    """Reciprocal rank fusion (Cormack et al., SIGIR 2009): sum over retrievers of 1/(60 + rank)."""
    fused = (found.proposed() / (60.0 + found.ranks + 1.0)).sum(-1)
    return np.where(found.mask, fused, -np.inf)


def main() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    from benchmarks.recsys import load_split
    from recsys.evaluate import evaluate_scores
    from recsys.ranking_features import PER_SOURCE, feature_names
    from recsys.rerank import TwoStageRanker, fit_ranker
    from recsys.rerank_training import candidate_batches, ranker_score, stack, top_lists, train_two_stage

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="threads for training (torch, LightGBM)")
    parser.add_argument("--latency-users", type=int, default=500)
    parser.add_argument(
        "--depths",
        default=",".join(f"{k}={v}" for k, v in DEPTHS.items()),
        help="NAME=DEPTH of each retriever used, in feature order (a subset of "
        f"{', '.join(RETRIEVERS)}; lightgcn first)",
    )
    parser.add_argument(
        "--save-as", default="ranker", help="folder name of the ranker under ALIGNREC_HOME/bench/rerank"
    )
    parser.add_argument(
        "--ranker-configs",
        default=None,
        help="JSON list of LightGBM settings to try instead of RANKER_CONFIGS (e.g. fewer, "
        'shallower trees for a faster second stage: \'[{"num_leaves": 15, "learning_rate": 0.1, '
        '"min_child_samples": 100}]\')',
    )
    args = parser.parse_args()
    depths = parse_depths(args.depths)
    configs = RANKER_CONFIGS if args.ranker_configs is None else json.loads(args.ranker_configs)
    torch.set_num_threads(args.threads)
    threadpool_limits(1)  # BLAS: per-user matrix products are small; threads only contend

    split = load_split("ml-1m")
    retrievers = load_retrievers(split)
    retrievers = {name: retrievers[name] for name in depths}
    sources = tuple(depths)
    names = feature_names(sources)
    valid, test = split.valid.to_csr(), split.test.to_csr()
    known = (split.train.to_csr() + valid).tocsr()
    genres, years = movie_content(retrievers["lightgcn"].item_ids)
    vectors = retrievers["lightgcn"].model.item_vectors().numpy()
    torch.set_num_threads(1)

    # ----- fit and tune on validation labels (what `alignrec rerank` runs) -----
    fitted = train_two_stage(
        retrievers,
        depths,
        split,
        genres,
        years,
        item_vectors=vectors,
        configs=configs,
        seed=SEED,
        threads=args.threads,
        batch=BATCH,
    )
    fit_parts, tune_parts = fitted.fit_parts, fitted.tune_parts
    fit_data, tune_data = stack(fit_parts), stack(tune_parts)
    print(
        f"fit rows {len(fit_data[0])} ({len(fit_data[2])} users), tune rows {len(tune_data[0])}", flush=True
    )
    for trial in fitted.trials:
        print(
            f"ranker {trial['config']}: {trial['rounds']} rounds, tune ndcg@10 {trial['tune_ndcg@10']:.4f}, "
            f"{trial['seconds']:.0f} s",
            flush=True,
        )
    ranker, tune_score, lightgcn_tune = fitted.ranker, fitted.tune_ndcg, fitted.tune_ndcg_first_retriever
    kept = max(fitted.trials, key=lambda t: t["tune_ndcg@10"])
    config, fit_seconds = kept["config"], kept["seconds"]
    tables = ranker.tables
    ranker.info["protocol"] = (
        "ml-1m rating>=3; per-user random 80/10/10 seed 2026; labels: valid items of 80% "
        "of valid users, early stopping on the other 20%"
    )
    ranker = TwoStageRanker.load(ranker.save(home_dir() / CACHE / args.save_as))  # measured as served
    gain = ranker.booster.feature_importance("gain", iteration=ranker.best_iteration)
    importance = dict(
        sorted(zip(names, (gain / gain.sum()).round(4).tolist(), strict=True), key=lambda t: -t[1])
    )
    print("feature gain share:", importance, flush=True)

    # Reference: the same LambdaRank on the retrievers' own features only.
    own = [*range(len(PER_SOURCE) * len(sources)), names.index("num_sources")]  # per-source come first
    own_fit = fit_ranker(
        stack(fit_parts, own),
        stack(tune_parts, own),
        names=[names[j] for j in own],
        seed=SEED,
        threads=args.threads,
        **config,
    )
    own_booster = own_fit.booster_

    def own_score(found, features):
        scores = np.full(found.mask.shape, -np.inf, dtype=np.float32)
        scores[found.mask] = own_booster.predict(features[found.mask][:, own], num_threads=1)
        return scores

    # ----- test -----
    test_users = np.flatnonzero(np.diff(test.indptr) > 0)
    test_parts = candidate_batches(retrievers, depths, tables, test_users, test, exclude="known", batch=BATCH)
    start = time.perf_counter()
    ranked = top_lists(test_parts, ranker_score(ranker), 20, split.train.num_users)
    lightgbm_seconds = time.perf_counter() - start  # includes the sort, which is negligible
    per_1000 = {
        "candidates_s_per_1000_users": sum(p[3] for p in test_parts) * 1000 / len(test_users),
        "features_s_per_1000_users": sum(p[4] for p in test_parts) * 1000 / len(test_users),
        "lightgbm_s_per_1000_users": lightgbm_seconds * 1000 / len(test_users),
    }
    per_1000["total_s_per_1000_users"] = sum(per_1000.values())
    per_1000 = {k: round(v, 3) for k, v in per_1000.items()}
    recall = {}
    for s, name in enumerate((*sources, "union")):
        found_share = [
            ((lab * (f.proposed()[..., s] if name != "union" else f.mask)).sum(1))
            / np.diff(test.indptr)[f.users]
            for f, _, lab, *_ in test_parts
        ]
        recall[name] = round(float(np.concatenate(found_share).mean()), 4)
    print("test:", per_1000, "candidate recall:", recall, flush=True)

    records = []
    for name in sources:
        model = retrievers[name].model
        result = evaluate_scores(lambda u, m=model: m.scores(torch.from_numpy(u)), split.test, known)
        records.append(
            {
                "model": name,
                "dataset": "ml-1m",
                "protocol": PROTOCOL,
                "users": result.num_users,
                **{k: round(result.metrics[k], 4) for k in METRIC_KEYS},
                "candidate_depth": depths[name],
                "candidate_recall": recall[name],
                **machine(),
            }
        )
    best_single = max(r["ndcg@10"] for r in records)
    pool = " + ".join(f"{s} {depths[s]}" for s in sources)
    fused = evaluate_lists(top_lists(test_parts, rrf, 20, split.train.num_users), split, known)
    records.append(
        {
            "model": f"rrf ({pool}), no learning",
            "dataset": "ml-1m",
            "protocol": PROTOCOL,
            **fused,
            "candidate_depth": sum(depths.values()),
            "candidate_recall": recall["union"],
            "gain_over_best_single": round(fused["ndcg@10"] / best_single - 1, 4),
            **machine(),
        }
    )
    own_metrics = evaluate_lists(top_lists(test_parts, own_score, 20, split.train.num_users), split, known)
    records.append(
        {
            "model": f"two-stage ({pool}) + lambdarank on retriever features only",
            "dataset": "ml-1m",
            "protocol": PROTOCOL + "; ranker as below",
            **own_metrics,
            "candidate_depth": sum(depths.values()),
            "candidate_recall": recall["union"],
            "gain_over_best_single": round(own_metrics["ndcg@10"] / best_single - 1, 4),
            "ranker_rounds": int(own_booster.best_iteration),
            **machine(),
        }
    )
    metrics = evaluate_lists(ranked, split, known)
    other_seeds = []  # the kept configuration refitted with other LightGBM seeds: how much is noise
    for seed in (SEED + 1, SEED + 2):
        refit = fit_ranker(fit_data, tune_data, names=names, seed=seed, threads=args.threads, **config)
        again = TwoStageRanker(refit.booster_, sources, tuple(depths.values()), tables)
        lists = top_lists(test_parts, ranker_score(again), 20, split.train.num_users)
        other_seeds.append(evaluate_lists(lists, split, known)["ndcg@10"])
    two_stage = {
        "model": f"two-stage ({pool}) + lambdarank",
        "dataset": "ml-1m",
        "protocol": PROTOCOL + "; ranker fitted on valid labels of 80% of valid users, tuned on 20%",
        **metrics,
        "candidate_depth": sum(depths.values()),
        "candidate_recall": recall["union"],
        "gain_over_best_single": round(metrics["ndcg@10"] / best_single - 1, 4),
        "ndcg@10_other_seeds": json.dumps(other_seeds),
        "tune_ndcg@10": round(tune_score, 4),
        "tune_ndcg@10_lightgcn_order": round(lightgcn_tune, 4),
        "ranker_rounds": ranker.best_iteration,
        "ranker_config": json.dumps(config),
        "ranker_fit_s": round(fit_seconds, 1),
        **per_1000,
    }
    two_stage.update(latency(ranker, retrievers, tables, test_users, args.latency_users))
    two_stage.update(machine())
    records.append(two_stage)
    print(json.dumps(two_stage), flush=True)
    notes = (
        __doc__.split("\n\n")[1]
        + "\n\nFeature gain shares of the kept ranker: "
        + ", ".join(f"{k} {v:.3f}" for k, v in importance.items())
        + "."
    )
    title = "Two-stage ranking on ML-1M: merged retrievers + LightGBM LambdaRank"
    path = RESULTS_DIR / "rerank.json"  # other candidate pools' rows stay
    produced = {r["model"] for r in records}
    kept = [r for r in json.loads(path.read_text()) if r["model"] not in produced] if path.exists() else []
    write_results("rerank", kept + records, title=title, notes=notes)


def parse_depths(text: str) -> dict[str, int]:
    """``lightgcn=100,bpr=50`` -> {"lightgcn": 100, "bpr": 50}, checked against RETRIEVERS."""
    depths = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name not in RETRIEVERS or not value.isdigit() or int(value) < 1:
            raise SystemExit(f"--depths: {part!r} is not NAME=DEPTH with NAME one of {list(RETRIEVERS)}")
        depths[name] = int(value)
    if next(iter(depths)) != "lightgcn":
        raise SystemExit("--depths: lightgcn must come first (its vectors and history feed the features)")
    return depths


def latency(ranker, retrievers, tables, users: np.ndarray, count: int) -> dict:
    """``rank(retrievers, user, 10)`` one user at a time: p50/p99 in ms, overall and per stage."""
    from recsys.ranking_features import candidate_features

    sample = np.random.default_rng(SEED).choice(users, size=min(count, len(users)), replace=False)
    ranker.rank(retrievers, int(sample[0]), 10)  # warm caches (LightGCN's propagated embeddings)
    whole, stages = [], {"candidates": [], "features": [], "lightgbm": []}
    for user in sample:
        t0 = time.perf_counter()
        ranker.rank(retrievers, int(user), 10)
        t1 = time.perf_counter()
        found = ranker.candidates(retrievers, np.array([user]))
        t2 = time.perf_counter()
        features = candidate_features(found, tables, retrievers["lightgcn"].train)
        t3 = time.perf_counter()
        ranker.predict(features, found.mask)
        t4 = time.perf_counter()
        whole.append(t1 - t0)
        for name, seconds in zip(stages, (t2 - t1, t3 - t2, t4 - t3), strict=True):
            stages[name].append(seconds)
    out = {}
    for name, seconds in {"rank": whole, **stages}.items():
        ms = np.asarray(seconds) * 1000
        out[f"{name}_p50_ms"] = round(float(np.percentile(ms, 50)), 3)
        out[f"{name}_p99_ms"] = round(float(np.percentile(ms, 99)), 3)
    return out


if __name__ == "__main__":
    main()
