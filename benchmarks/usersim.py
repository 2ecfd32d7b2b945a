"""User-simulator benchmark on MovieLens 100K: protocol 1 (popularity-sampled negatives) and
protocol 2 (hard negatives, with and without matching the random list to the target).

Run: ``python -m benchmarks.usersim [--protocols 1,2] [--lm smollm2|none]`` (needs ../shared/data;
folds its rows into ``benchmarks/results/usersim.json`` and ``.md``).

Protocol: 300 users (seed 2026) with at least 11 ratings; each one's last rating (by timestamp) is
the target, the 10 ratings before it the history; the options are the target plus n - 1 negatives
drawn ∝ training popularity among items the user never rated, the target at a uniformly random
position (seed 2026); n = 5 and n = 10. Every simulator learns only from the log without the
targets. Baselines here: random, popularity, ItemKNN (k 100) and BPR-MF (dim 64, Adam, early stop
on a 10% random validation part of the training log) scored through ``Recommender.score_items``;
and SmolLM2-135M-Instruct zero-shot (``--lm smollm2``, or any local model folder; ``--lm none`` to
skip), reading the choice from the options' mean token log-probs (``simulators.users.lm``) with the
ML-100K persona (age, gender, occupation) and titles. Tuned simulators are not in this file yet.

Protocol 2 (``simulators.users.hard_exposures``): 4 negatives interleaved from a random list, BPR's
top 50 for the user and the items whose genres are closest to the history's; none of the user's
items and none released after the event's year (release years from ``u.item``). "matched": the
random list comes from the target's popularity decile and within 2 release years of it. Metadata
heuristics as baselines: the newest title and the list's genre medoid (plus popularity).
"""

from __future__ import annotations

import argparse
import os
import time

from benchmarks.online import machine
from benchmarks.results_io import merge_results, write_results


def describe(protocol: str, users: int, n: int) -> str:
    head = f"{users} held-out users (seed 2026), last rating the target, 10-rating history; n = {n}"
    if protocol == "1":
        return f"protocol 1: {head} with {n - 1} negatives ∝ train popularity (seed 2026)"
    return (
        f"protocol {protocol}: {head}; negatives interleaved from a random list, BPR's top 50 and the "
        "genre-closest items to the history; none of the user's items, none released after the event's year"
    )


def movie_meta(log, held):
    """Release years, genres and training popularity of ML-100K's items (internal ids), and the
    years and genres by original id for the heuristics."""
    from alignrec.settings import require_data
    from recsys.movie_catalog import read_ml100k_items
    from simulators.users import ItemMeta

    catalog = read_ml100k_items(require_data("ml-100k/u.item"), require_data("ml-100k/u.genre"))
    row = {int(m): k for k, m in enumerate(catalog.movie_ids)}
    rows = [row[int(m)] for m in log.item_ids]
    years = catalog.years[rows]
    genres = catalog.genre_matrix()[rows]
    meta = ItemMeta(years=years, genres=genres, popularity=held.train.item_popularity())
    ids = [str(i) for i in log.item_ids]
    return meta, dict(zip(ids, years.tolist(), strict=True)), dict(zip(ids, genres, strict=True))


def zero_shot_lm(base: str, log):
    """The LM simulator over ML-100K titles and personas, untuned."""
    from alignrec.settings import home_dir, require_data
    from recsys.movie_catalog import read_ml100k_items
    from simulators.alignment.base_models import load_base_model
    from simulators.preference_data import movielens_item_texts, read_ml100k_personas
    from simulators.users.lm import LMUser

    catalog = read_ml100k_items(require_data("ml-100k/u.item"), require_data("ml-100k/u.genre"))
    texts = dict(zip(map(str, log.item_ids), movielens_item_texts(log, catalog), strict=True))
    people = read_ml100k_personas(require_data("ml-100k/u.user"), log)
    personas = dict(zip(map(str, log.user_ids), people, strict=True))
    model, tokenizer, _ = load_base_model(base, home_dir() / "models")
    return LMUser(model, tokenizer, texts, personas, name=f"lm {base} zero-shot")


def main() -> None:
    import torch

    from alignrec.settings import require_data
    from recsys.models.bpr import BPR
    from recsys.models.itemknn import ItemKNN
    from recsys.readers import read_movielens_100k
    from recsys.recommender import Recommender
    from recsys.splits import random_split
    from recsys.train import fit
    from simulators.users import (
        GenreMedoidUser,
        NewestUser,
        PopularityUser,
        RandomUser,
        RecommenderUser,
        evaluate_simulator,
        hard_exposures,
        heldout_split,
        popularity_exposures,
    )

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--lm", default="smollm2", help="smollm2, a local model folder, or none")
    parser.add_argument("--lm-lists", type=int, default=300, help="lists the LM decides (it is slow)")
    parser.add_argument(
        "--protocols", default="1,2", help="1: popularity-sampled negatives; 2: hard negatives"
    )
    args = parser.parse_args()
    protocols = [int(p) for p in args.protocols.split(",")]
    torch.set_num_threads(1)

    log = read_movielens_100k(require_data("ml-100k/u.data.gz"))
    held = heldout_split(log, num_users=args.users, min_events=11, seed=2026)
    train = held.train
    start = time.perf_counter()
    inner = random_split(train, (0.9, 0.1, 0.0), seed=2026)
    torch.manual_seed(2026)
    model = BPR(train.num_users, train.num_items, dim=64, reg=1e-4)
    result = fit(
        model, inner.train, valid=inner.valid, epochs=args.epochs, lr=args.lr, patience=10, seed=2026
    )
    bpr_seconds = time.perf_counter() - start
    bpr = Recommender(model, inner.train.to_csr(), train.user_ids, train.item_ids)
    knn = Recommender(ItemKNN(train, k=100), train.to_csr(), train.user_ids, train.item_ids)
    simulators = [
        RandomUser(),
        PopularityUser(knn),
        RecommenderUser(knn),
        RecommenderUser(bpr, name="bpr-mf"),
    ]
    if args.lm != "none":
        simulators.append(zero_shot_lm(args.lm, log))
    records = []
    settings = [("1", n, popularity_exposures(log, held, n=n, history=10, seed=2026)) for n in (5, 10)]
    settings = [s for s in settings if 1 in protocols]
    if 2 in protocols:
        meta, years, genres = movie_meta(log, held)
        collaborative, _ = bpr.recommend_batch(held.users, 50)
        heuristics = [NewestUser(years), GenreMedoidUser(genres)]
        for match in (False, True):
            exposures = hard_exposures(log, held, meta, collaborative, n=5, match=match, seed=2026)
            settings.append((f"2 ({'matched' if match else 'unmatched'} random list)", 5, exposures))
    for protocol, n, exposures in settings:
        extra = heuristics if protocol.startswith("2") else []
        for simulator in [*simulators, *extra]:
            if protocol.startswith("2") and simulator.name.startswith("lm"):
                continue  # the LM's slow path is measured on protocol 1 only in this version
            lists = exposures[: args.lm_lists] if simulator.name.startswith("lm") else exposures
            metrics = evaluate_simulator(simulator, lists)
            record = {
                "model": simulator.name,
                "dataset": "ml-100k",
                "protocol": describe(protocol, args.users, n),
                **{k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()},
                "threads": 1,
                **machine(),
            }
            if simulator.name == "bpr-mf":
                record["fit_seconds"] = round(bpr_seconds, 1)
                record["best_epoch"] = result.best_epoch + 1
            records.append(record)
            print(
                f"protocol {protocol} n={n} {simulator.name}: accuracy {metrics['accuracy']:.3f}", flush=True
            )
    notes = (
        "Protocols 1 and 2 of issue 12. `accuracy`: argmax choice equals the real next item; "
        "`sampled_accuracy`: "
        "mean probability on it; `position_rates` vs `target_rates`: position bias. The issue's anchors on "
        "its own "
        "draw of users: random 0.20, popularity 0.157, ItemKNN 0.373, BPR-MF 0.421 at n = 5; BPR-MF 0.284 at "
        f"n = 10. Rerun: `python -m benchmarks.usersim`. Load average at start {os.getloadavg()[0]:.2f}."
    )
    write_results("usersim_part", records, title="part", notes="")
    # Folded into what earlier runs measured (a rerun of one protocol keeps the other's rows).
    merge_results(
        "usersim", ["usersim_part"], title="User simulators: choice accuracy on real next items", notes=notes
    )


if __name__ == "__main__":
    main()
