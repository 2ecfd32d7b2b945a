"""Simulated A/B tests: can the harness find the better policy, does A/A stay quiet, how fast is it.

Run: ``python -m benchmarks.abtest [--parts ml100k,calibration,planted,speed]`` (the ML parts need
../shared/data). Writes ``benchmarks/results/abtest.json`` and ``.md``; the records of parts not run
are kept.

Parts:

- ``ml100k``: ML-100K users. World (the fast user simulator): an ItemKNN (k 100) fitted on *all*
  events scores every (user, item); a user clicks each of the k = 10 slate items independently
  with sigmoid((score - bias) / temperature), the bias set so that a median-scored item is clicked
  5% of the time and the temperature the scores' standard deviation; a user who goes 5 rounds
  without a click leaves. Policies trained on the 80% train part of the per-user random 80/10/10
  split (seed 2026) only: MostPopular and LightGCN (dim 64, 3 layers, lr 5e-3, early stop on
  valid). Popularity vs LightGCN, A/A, and the same on local Ray. Stars from
  ``ClickModel.fit_ratings`` on the train split's ratings; diversity over the 19 genre multi-hots.
- ``ml100k-bpr``: the same policies in a second world, a BPR (dim 64, lr 1e-3, ``--world-epochs``)
  fitted on all events; ``world_popularity_correlation`` says how popularity-shaped each world is
  (item popularity in train vs the item's mean world score).
- ``calibration``: ``--aa-runs`` A/A tests (LightGCN vs itself) of ``--aa-rounds`` rounds on the
  ``ml100k`` world, each with its own salt and seed: the false-positive rates at alpha 0.05.
- ``calibration-planted``: ``--aa-runs`` A/A tests (BPR vs itself) of ``--rounds`` rounds in the
  planted world below, each with its own salt and seed; ``z_std`` is the spread of the
  fixed-horizon z statistic over the runs (1 when the delta-method standard errors are right).
- ``planted``: a world that is *not* popularity-shaped, where the harness must find the better
  policy: ``recsys.synthetic.make_interactions`` (2,000 users, 1,000 items, 8 planted factors in 6
  clusters, 20 events per user drawn from taste x a Zipf popularity prior). The world clicks by
  taste alone (the planted user x item factors, calibrated to 5%), so the log's popularity is a
  misleading signal; stars from ``ClickModel.fit_ratings`` on the log's ratings; diversity over the
  items' cluster one-hots. Policies see only the log: MostPopular and BPR (dim 32, 30 epochs).
  Popularity vs BPR, ItemKNN (k 50) vs BPR (a closer pair) and A/A (BPR twice), each also over
  ``--seeds`` (A/A: ``--aa-seeds``) salts and seeds: detection rate, mSPRT stop round (time to
  detection) and how many stops had the treatment ahead; retrained
  arms (popularity and BPR refitted on their clicks every 10 rounds) against their static selves.
- ``speed``: ``--speed-users`` ML-1M users x 50 rounds x 2 arms (popularity vs BPR trained 20
  epochs on the ML-1M train split), world ItemKNN on all ML-1M events: run time and slates/s in one
  process, on local Ray (2 workers) and over HTTP (two ``serving`` apps under uvicorn, in threads of
  this process, then as two server processes with 4 requests in flight per arm; ``--http-rounds``
  rounds). ``identical_to_one`` over HTTP compares with the in-process run that scores one user per
  call (``RecommenderPolicy(batch=1)``, the server's arithmetic); ``users_differing_from_batched``
  counts the users whose clicks differ from the batched in-process run (near-tied scores that a
  batched matrix product rounds differently).
- ``simulated-users``: user simulators of issue 12 as the A/B users (``SimulatorClickModel``: a slot
  is clicked with probability min(1, 0.05 * k * p), p the simulator's choice probability over the
  slate; clicked items join the user's history). The users: all ML-100K users, histories from the
  log the simulators learned from (``benchmarks.usersim``'s split: 300 held-out users' last events
  removed). Arms: MostPopular vs a BPR policy (dim 32, 30 epochs, seed 1, on the same log; the
  simulators' BPR feature is another fit, dim 64). The distilled simulator (LightGBM distilled from
  SmolLM2's no-list scores, ``benchmarks.usersim.distilled_user``, from the cached labels) runs
  the whole test, ``--rounds`` rounds, in one process and on local Ray (2 workers); the LM itself
  (SmolLM2-135M-Instruct, fp32, compact no-list prompt, one thread) runs ``--lm-users`` users x
  ``--lm-rounds`` rounds, its decisions/s, and what the full test would take at that rate.

Statistics (``simulators.abtest``): user-level delta-method CTR comparison (fixed horizon) and an
always-valid mSPRT read after every round; "naive peeking" reads the fixed-horizon p-value after
every round and stops at the first p < 0.05. Arms by sha256(salt:user id) mod arms; one seeded
generator per (user, round). Heavy parts run with one torch thread.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.online import machine
from benchmarks.results_io import RESULTS_DIR, write_results

PARTS = ("ml100k", "ml100k-bpr", "calibration", "calibration-planted", "planted", "speed", "simulated-users")
NOTES = (
    "Simulated A/B tests (issue 13). Rerun: `python -m benchmarks.abtest [--parts ...]` (parts ml100k, "
    "ml100k-bpr, calibration, planted, speed; see the module docstring). `sequential_stop_round`: first "
    "round whose always-valid mSPRT p-value < 0.05 (time to detection); `naive_peek_round`: first round "
    "whose fixed-horizon p-value < 0.05 (what daily peeking would stop at). `diversity_*`: mean "
    "intra-list diversity (pairwise cosine distance of the items' genre multi-hots on ML-100K, cluster "
    "one-hots in the planted world); `mean_rating_*`: mean star rating of clicked items (world-score "
    "quantiles matched to the training ratings); `world_popularity_correlation`: item popularity in "
    "train vs the item's mean world score. `repeated` rows: the same pair over `seeds` salts and seeds. "
    "Creators are benchmarked in creators.md."
)


def ab_record(name: str, dataset: str, protocol: str, result, seconds: float, extra: dict) -> dict:
    """One A/B run as a record: per-arm figures and the first comparison's statistics."""
    from simulators.abtest.analysis import report

    numbers = report(result)
    comparison = next(iter(numbers["comparisons"].values()))
    decisions = int((result.impressions > 0).sum())
    arms = numbers["arms"]
    record = {
        "model": name,
        "dataset": dataset,
        "protocol": protocol,
        **{f"ctr_{arm}": round(v["ctr"], 5) for arm, v in arms.items()},
        **{f"retention_{arm}": round(v["retention"], 4) for arm, v in arms.items()},
        **{f"coverage_{arm}": round(v["coverage"], 4) for arm, v in arms.items()},
        **{f"exposure_gini_{arm}": round(v["exposure_gini"], 4) for arm, v in arms.items()},
        **{f"clicks_per_user_{arm}": round(v["clicks_per_user"], 3) for arm, v in arms.items()},
        "clicks_per_user_difference": round(comparison["clicks_per_user"]["difference"], 3),
        "clicks_per_user_p_value": comparison["clicks_per_user"]["p_value"],
        "difference": round(comparison["difference"], 5),
        "ci_low": round(float(comparison["ci_low"]), 5),
        "ci_high": round(float(comparison["ci_high"]), 5),
        "p_value": comparison["p_value"],
        "significant": comparison["significant"],
        "sequential_stop_round": comparison["sequential_stop_round"],
        "difference_at_stop": comparison["difference_at_stop"],
        "naive_peek_round": comparison["naive_peek_round"],
    }
    if result.diversity is not None:
        diversity = np.nanmean(result.diversity_per_round(), axis=0)
        record.update(
            {f"diversity_{arm}": round(float(d), 4) for arm, d in zip(arms, diversity, strict=True)}
        )
    if result.rating_sum is not None:
        for a, arm in enumerate(arms):
            stars, clicks = result.user_rating_totals(a)
            record[f"mean_rating_{arm}"] = round(float(stars.sum() / clicks.sum()), 4)
    return {
        **record,
        "seconds": round(seconds, 2),
        "slates_per_s": round(decisions / seconds, 1),
        **extra,
        **machine(),
    }


def ml100k_genres(item_ids: np.ndarray) -> np.ndarray:
    """(I, 19) ML-100K genre multi-hots of the given movie ids (``u.item``)."""
    from alignrec.settings import require_data
    from recsys.movie_catalog import read_ml100k_items

    catalog = read_ml100k_items(require_data("ml-100k/u.item"), require_data("ml-100k/u.genre"))
    row = {int(m): k for k, m in enumerate(catalog.movie_ids)}
    return catalog.genre_matrix()[[row[int(m)] for m in item_ids]].astype(np.float64)


def bpr_world(split, epochs: int, base_rate: float = 0.05):
    """A click model from a BPR (dim 64, lr 1e-3) fitted on *every* event of the split."""
    import torch

    from recsys.artifact import interactions_from_csr
    from recsys.models.bpr import BPR
    from recsys.train import fit
    from simulators.abtest.environment import ClickModel

    everything = (split.train.to_csr() + split.valid.to_csr() + split.test.to_csr()).tocsr()
    everything.data[:] = 1.0
    torch.manual_seed(2026)
    model = BPR(everything.shape[0], everything.shape[1], dim=64)
    fit(model, interactions_from_csr(everything), epochs=epochs, lr=1e-3, batch_size=2048, progress=False)
    with torch.no_grad():
        scores = model.scores(torch.arange(everything.shape[0])).numpy()
    return ClickModel.calibrated(scores, base_rate=base_rate)


def ml100k(args, parts: set[str]) -> list[dict]:
    import torch

    from benchmarks.recsys import load_split
    from recsys.models.lightgcn import LightGCN
    from recsys.models.popularity import MostPopular
    from recsys.recommender import Recommender
    from recsys.train import fit
    from simulators.abtest.environment import itemknn_world, run_abtest, run_abtest_on_ray
    from simulators.abtest.policies import RecommenderPolicy

    split = load_split("ml-100k")
    train = split.train
    torch.manual_seed(2026)
    lightgcn_model = LightGCN(train.num_users, train.num_items, train.to_csr(), 64, 3, 1e-4)
    fit(lightgcn_model, train, valid=split.valid, epochs=args.epochs, lr=5e-3, patience=10, progress=False)
    lightgcn = Recommender(lightgcn_model, train.to_csr(), train.user_ids, train.item_ids)
    pop = Recommender(MostPopular(train), train.to_csr(), train.user_ids, train.item_ids)
    users, ids = np.arange(train.num_users), [str(u) for u in train.user_ids]
    genres = ml100k_genres(train.item_ids)
    popularity = np.bincount(train.items, minlength=train.num_items)
    base = {"rounds": args.rounds, "k": 10, "patience": 5, "seed": 2026, "item_features": genres}
    worlds = {}  # name -> (click model, whether the A/B tests run in it)
    if "ml100k" in parts or "calibration" in parts:
        worlds["ItemKNN"] = (itemknn_world(split, k=100, base_rate=0.05), "ml100k" in parts)
    if "ml100k-bpr" in parts:
        worlds["BPR"] = (bpr_world(split, args.world_epochs), True)
    records = []
    for world, (clicks, tested) in worlds.items():
        clicks.fit_ratings(train.users, train.items, train.ratings)
        shape = float(np.corrcoef(popularity, clicks.scores.mean(0))[0, 1])
        protocol = (
            f"ML-100K {len(users)} users, {args.rounds} rounds, k 10; world: {world} on all events, 5% base "
            "click rate; policies trained on the 80% train split; user-level delta method; mSPRT tau = 20% "
            "of control CTR"
        )
        for name, policies, names in (
            (
                "popularity vs lightgcn",
                [RecommenderPolicy(pop), RecommenderPolicy(lightgcn)],
                ["pop", "lightgcn"],
            ),
            ("a/a lightgcn", [RecommenderPolicy(lightgcn), RecommenderPolicy(lightgcn)], ["a", "b"]),
        ):
            if not tested:
                break
            start = time.perf_counter()
            result = run_abtest(policies, names, clicks, users, ids, train.num_items, salt=name, **base)
            extra = {"process": "one", "world_popularity_correlation": round(shape, 3)}
            records.append(ab_record(name, "ml-100k", protocol, result, time.perf_counter() - start, extra))
            print(records[-1], flush=True)
            if not args.skip_ray and name.startswith("popularity"):
                start = time.perf_counter()
                sharded = run_abtest_on_ray(
                    policies, names, clicks, users, ids, train.num_items, workers=2, salt=name, **base
                )
                same = bool(np.array_equal(sharded.clicks, result.clicks))
                extra = {"process": "local ray, 2 workers (incl. start-up)", "identical_to_one": same}
                seconds = time.perf_counter() - start
                records.append(ab_record(name, "ml-100k", protocol, sharded, seconds, extra))
                print(records[-1], flush=True)
    if "calibration" not in parts:
        return records
    clicks = worlds["ItemKNN"][0]

    policies = [RecommenderPolicy(lightgcn), RecommenderPolicy(lightgcn)]
    records.append(
        aa_calibration(
            "a/a calibration (lightgcn vs itself)",
            "ml-100k",
            policies,
            clicks,
            users,
            ids,
            train.num_items,
            args.aa_runs,
            args.aa_rounds,
        )
    )
    print(records[-1], flush=True)
    return records


def aa_calibration(name, dataset, policies, clicks, users, ids, num_items, runs, rounds, describe=""):
    """``runs`` A/A tests, each with a fresh salt (assignment) and seed (clicks): the false-positive
    rates at alpha 0.05 of the fixed-horizon test, the always-valid mSPRT read every round, and naive
    peeking (the fixed-horizon p-value read every round); and the spread of the fixed-horizon z
    statistic (1 if the delta-method standard errors are right)."""
    from simulators.abtest.analysis import report
    from simulators.abtest.environment import run_abtest

    start = time.perf_counter()
    fixed, sequential, naive, z = [], [], [], []
    options = {"rounds": rounds, "k": 10, "patience": 5}
    for run in range(runs):
        result = run_abtest(
            policies, ["a", "b"], clicks, users, ids, num_items, seed=run, salt=f"aa-{run}", **options
        )
        comparison = report(result)["comparisons"]["b"]
        fixed.append(comparison["significant"])
        sequential.append(comparison["sequential_stop_round"] is not None)
        naive.append(comparison["naive_peek_round"] is not None)
        se = (comparison["ci_high"] - comparison["ci_low"]) / (2 * 1.959964)
        z.append(comparison["difference"] / se)
    z = np.asarray(z)
    rate = float(np.mean(fixed))
    low, high = binomial_interval(int(np.sum(fixed)), runs)
    return {
        "model": name,
        "dataset": dataset,
        "protocol": f"{runs} A/A runs, {len(users)} users x {rounds} rounds each, own salt and seed; "
        f"alpha 0.05{describe}",
        "fixed_horizon_false_positive_rate": round(rate, 4),
        "fixed_horizon_rate_ci_low": round(float(low), 4),
        "fixed_horizon_rate_ci_high": round(float(high), 4),
        "sequential_false_positive_rate": round(float(np.mean(sequential)), 4),
        "naive_peeking_false_positive_rate": round(float(np.mean(naive)), 4),
        "z_std": round(float(z.std(ddof=1)), 4),
        "z_mean": round(float(z.mean()), 4),
        "runs": runs,
        "seconds": round(time.perf_counter() - start, 1),
        **machine(),
    }


def binomial_interval(successes: int, trials: int) -> tuple[float, float]:
    """Exact (Clopper-Pearson) 95% interval of a rate."""
    from scipy.stats import binomtest

    interval = binomtest(successes, trials).proportion_ci(0.95)
    return interval.low, interval.high


def planted_world(rounds: int):
    """The planted world (see the module docstring): its log, truth, click model, genres, the
    fitted BPR's start state, the three policies' recommenders and the protocol text."""
    import torch

    from recsys.models.bpr import BPR
    from recsys.models.itemknn import ItemKNN
    from recsys.models.popularity import MostPopular
    from recsys.recommender import Recommender
    from recsys.synthetic import make_interactions
    from recsys.train import fit
    from simulators.abtest.environment import ClickModel

    log, truth = make_interactions(num_users=2000, num_items=1000, events_per_user=20, dim=8, seed=2026)
    taste = truth["user_factors"] @ truth["item_factors"].T  # (U, I) the world: taste, no popularity
    clicks = ClickModel.calibrated(taste, base_rate=0.05).fit_ratings(log.users, log.items, log.ratings)
    observed = np.bincount(log.items, minlength=log.num_items)
    taste_vs_popularity = float(np.corrcoef(observed, taste.mean(0))[0, 1])
    torch.manual_seed(2026)
    bpr_model = BPR(log.num_users, log.num_items, dim=32)
    fit(bpr_model, log, epochs=30, lr=0.01, batch_size=1024, progress=False)
    csr = log.to_csr()
    protocol = (
        f"planted world: {log.num_users} users x {log.num_items} items, clicks by planted taste only (5% "
        f"base rate), log of 20 events/user with a Zipf popularity prior (item popularity vs mean taste "
        f"r = {taste_vs_popularity:.2f}); policies fitted on the log; {rounds} rounds, k 10, "
        "patience 5; user-level delta method; mSPRT tau = 20% of control CTR"
    )
    return {
        "log": log,
        "clicks": clicks,
        "genres": np.eye(6)[truth["item_cluster"]],  # (I, 6)
        "start_state": {key: value.clone() for key, value in bpr_model.state_dict().items()},
        "bpr": Recommender(bpr_model, csr, log.user_ids, log.item_ids),
        "pop": Recommender(MostPopular(log), csr, log.user_ids, log.item_ids),
        "knn": Recommender(ItemKNN(log, k=50), csr, log.user_ids, log.item_ids),
        "protocol": protocol,
    }


def calibration_planted(args) -> dict:
    """``--aa-runs`` A/A tests (BPR vs itself) of ``--rounds`` rounds in the planted world."""
    from simulators.abtest.policies import RecommenderPolicy

    world = planted_world(args.rounds)
    log = world["log"]
    policies = [RecommenderPolicy(world["bpr"]), RecommenderPolicy(world["bpr"])]
    users, ids = np.arange(log.num_users), [str(u) for u in log.user_ids]
    return aa_calibration(
        "a/a calibration (bpr vs itself)",
        "synthetic",
        policies,
        world["clicks"],
        users,
        ids,
        log.num_items,
        args.aa_runs,
        args.rounds,
        describe="; " + world["protocol"],
    )


def planted(args) -> list[dict]:
    from recsys.models.bpr import BPR
    from simulators.abtest.analysis import report
    from simulators.abtest.environment import run_abtest
    from simulators.abtest.policies import (
        RecommenderPolicy,
        RetrainingPolicy,
        embedding_trainer,
        popularity_trainer,
    )

    world = planted_world(args.rounds)
    log, clicks, genres, protocol = world["log"], world["clicks"], world["genres"], world["protocol"]
    bpr, pop, knn, start_state = world["bpr"], world["pop"], world["knn"], world["start_state"]
    users, ids = np.arange(log.num_users), [str(u) for u in log.user_ids]
    options = {"rounds": args.rounds, "k": 10, "patience": 5, "item_features": genres}
    records = []
    for name, policies, names in (
        ("popularity vs bpr", [RecommenderPolicy(pop), RecommenderPolicy(bpr)], ["pop", "bpr"]),
        ("itemknn vs bpr", [RecommenderPolicy(knn), RecommenderPolicy(bpr)], ["itemknn", "bpr"]),
        ("a/a bpr", [RecommenderPolicy(bpr), RecommenderPolicy(bpr)], ["a", "b"]),
    ):
        start = time.perf_counter()
        result = run_abtest(
            policies, names, clicks, users, ids, log.num_items, seed=2026, salt=name, **options
        )
        extra = {"process": "one", "seed": 2026}
        records.append(ab_record(name, "synthetic", protocol, result, time.perf_counter() - start, extra))
        print(records[-1], flush=True)

        # Power and A/A over further seeds: how often, and how soon, the sequential test stops.
        start = time.perf_counter()
        seeds = args.aa_seeds if name.startswith("a/a") else args.seeds
        stops, significant, positive = [], [], []
        for seed in range(seeds):
            run = run_abtest(
                policies,
                names,
                clicks,
                users,
                ids,
                log.num_items,
                seed=seed,
                salt=f"{name}-{seed}",
                **{**options, "item_features": None},
            )
            comparison = next(iter(report(run)["comparisons"].values()))
            stops.append(comparison["sequential_stop_round"])
            significant.append(comparison["significant"])
            positive.append(
                comparison["sequential_stop_round"] is not None and comparison["difference_at_stop"] > 0
            )
        found = [s for s in stops if s is not None]
        records.append(
            {
                "model": f"{name}, repeated",
                "dataset": "synthetic",
                "protocol": protocol + "; seeds 0..n-1, each its own salt",
                "seeds": seeds,
                "fixed_horizon_significant_rate": round(float(np.mean(significant)), 3),
                "sequential_stop_rate": round(len(found) / len(stops), 3),
                "sequential_stops_treatment_ahead": int(sum(positive)),
                "median_stop_round": float(np.median(found)) if found else None,
                "max_stop_round": max(found) if found else None,
                "seconds": round(time.perf_counter() - start, 1),
                **machine(),
            }
        )
        print(records[-1], flush=True)

    # Retraining: each arm refitted on its own clicks every 10 rounds, against its static self.
    def bpr_fresh(matrix):
        return BPR(log.num_users, log.num_items, dim=32)

    retrain_bpr = embedding_trainer(
        bpr_fresh, start_state, log.user_ids, log.item_ids, epochs=3, lr=0.01, batch_size=1024
    )
    for name, learning, static in (
        ("retrained popularity vs static popularity", popularity_trainer(log.user_ids, log.item_ids), pop),
        ("retrained bpr vs static bpr", retrain_bpr, bpr),
    ):
        start = time.perf_counter()
        policies = [RecommenderPolicy(static), RetrainingPolicy(learning, log.to_csr(), "retrained")]
        result = run_abtest(
            policies,
            ["static", "retrained"],
            clicks,
            users,
            ids,
            log.num_items,
            seed=2026,
            salt=name,
            retrain_every=10,
            **options,
        )
        extra = {"process": "one", "seed": 2026, "retrain_every": 10}
        records.append(ab_record(name, "synthetic", protocol, result, time.perf_counter() - start, extra))
        print(records[-1], flush=True)
    return records


def simulated_users(args) -> list[dict]:
    """The distilled and the LM user simulators as the users of an ML-100K A/B test."""
    import torch

    from alignrec.settings import home_dir
    from benchmarks.usersim import LM_VARIANTS, distilled_user, fit_baselines, lm_texts
    from recsys.models.bpr import BPR
    from recsys.models.popularity import MostPopular
    from recsys.recommender import Recommender
    from recsys.train import fit
    from simulators.abtest.environment import run_abtest, run_abtest_on_ray
    from simulators.abtest.policies import RecommenderPolicy
    from simulators.abtest.simulated_users import SimulatorClickModel
    from simulators.users.experiment import SimulatorData, training_lists
    from simulators.users.exposures import log_histories
    from simulators.users.lm import LMUser, load_lm

    log, held, bpr, knn, _, _ = fit_baselines(300, 100, 5e-3)
    train = held.train
    model, tokenizer = load_lm("smollm2", home_dir() / "models", None)
    texts, personas = lm_texts(log)
    train_lists = training_lists(SimulatorData(log, held, texts, personas, None, None), 150, lists_per_user=4)
    variant = "compact no list"
    fast, _ = distilled_user(
        model, tokenizer, "lm smollm2 zero-shot", variant, log, held, bpr, knn, train_lists
    )
    torch.manual_seed(1)
    policy_model = BPR(train.num_users, train.num_items, dim=32)
    fit(policy_model, train, epochs=30, lr=0.01, batch_size=1024, seed=1, progress=False)
    csr = train.to_csr()
    policies = [
        RecommenderPolicy(Recommender(MostPopular(train), csr, train.user_ids, train.item_ids)),
        RecommenderPolicy(Recommender(policy_model, csr, train.user_ids, train.item_ids)),
    ]
    histories = log_histories(train)
    ids = [str(u) for u in train.user_ids]
    protocol = (
        f"ML-100K, all {train.num_users} users, {{rounds}} rounds x 2 arms, k 10; users: {{users}}; "
        "clicks min(1, 0.05 k p); popularity vs BPR (dim 32) on the log without 300 held-out last events"
    )
    records = []
    options = {"rounds": args.rounds, "k": 10, "patience": 5, "seed": 2026, "salt": "simulated"}
    everyone = np.arange(train.num_users)
    start = time.perf_counter()
    clicks = SimulatorClickModel(fast, train.user_ids, train.item_ids, histories)
    one = run_abtest(policies, ["pop", "bpr"], clicks, everyone, ids, train.num_items, **options)
    seconds = time.perf_counter() - start
    text = protocol.format(rounds=args.rounds, users=f"distilled simulator ({variant})")
    extra = {
        "process": "one",
        "simulator_decisions_per_s": round(clicks.decisions_per_second, 1),
        "decisions": clicks.decisions,
    }
    records.append(ab_record("simulated users: popularity vs bpr", "ml-100k", text, one, seconds, extra))
    print(records[-1], flush=True)
    if not args.skip_ray:
        start = time.perf_counter()
        clicks = SimulatorClickModel(fast, train.user_ids, train.item_ids, histories)
        sharded = run_abtest_on_ray(
            policies, ["pop", "bpr"], clicks, everyone, ids, train.num_items, workers=2, **options
        )
        extra = {
            "process": "local ray, 2 workers (incl. start-up)",
            "identical_to_one": bool(np.array_equal(sharded.clicks, one.clicks)),
        }
        seconds = time.perf_counter() - start
        records.append(
            ab_record("simulated users: popularity vs bpr", "ml-100k", text, sharded, seconds, extra)
        )
        print(records[-1], flush=True)
    if args.lm_users:
        lm = LMUser(model, tokenizer, texts, personas, cache_users=args.lm_users, **LM_VARIANTS[variant])
        clicks = SimulatorClickModel(lm, train.user_ids, train.item_ids, histories)
        some = np.random.default_rng(2026).choice(train.num_users, size=args.lm_users, replace=False)
        start = time.perf_counter()
        result = run_abtest(
            policies, ["pop", "bpr"], clicks, np.sort(some), [ids[u] for u in np.sort(some)],
            train.num_items, **{**options, "rounds": args.lm_rounds},
        )  # fmt: skip
        seconds = time.perf_counter() - start
        full = 1000 * 50 / clicks.decisions_per_second  # at most: each of 1,000 users stays 50 rounds
        text = protocol.format(rounds=args.lm_rounds, users=f"SmolLM2-135M-Instruct, fp32, {variant}")
        extra = {
            "process": "one",
            "users": args.lm_users,
            "simulator_decisions_per_s": round(clicks.decisions_per_second, 2),
            "decisions": clicks.decisions,
            "hours_for_1000_users_50_rounds_2_arms": round(full / 3600, 1),
        }
        records.append(
            ab_record("simulated users (lm): popularity vs bpr", "ml-100k", text, result, seconds, extra)
        )
        print(records[-1], flush=True)
    return records


def speed(args) -> list[dict]:
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import torch

    from benchmarks.recsys import load_split
    from recsys.models.bpr import BPR
    from recsys.models.popularity import MostPopular
    from recsys.recommender import Recommender
    from recsys.train import fit
    from simulators.abtest.environment import itemknn_world, run_abtest, run_abtest_on_ray
    from simulators.abtest.policies import HTTPPolicy, RecommenderPolicy

    split = load_split("ml-1m")
    train = split.train
    clicks = itemknn_world(split, k=100, base_rate=0.05)
    torch.manual_seed(2026)
    model = BPR(train.num_users, train.num_items, dim=64)
    fit(model, train, epochs=20, lr=2e-3, batch_size=4096, progress=False)
    recommenders = {
        "pop": Recommender(MostPopular(train), train.to_csr(), train.user_ids, train.item_ids),
        "bpr": Recommender(model, train.to_csr(), train.user_ids, train.item_ids),
    }
    users = np.arange(args.speed_users)
    ids = [str(train.user_ids[u]) for u in users]
    names = list(recommenders)
    policies = [RecommenderPolicy(r) for r in recommenders.values()]
    base = {"k": 10, "patience": 5, "seed": 2026, "salt": "speed"}
    protocol = (
        f"ML-1M, first {len(users)} users, {{rounds}} rounds x 2 arms, k 10; world: ItemKNN on all events, "
        "5% base click rate; popularity vs BPR (dim 64, 20 epochs) trained on the 80% train split"
    )
    records = []
    start = time.perf_counter()
    one = run_abtest(policies, names, clicks, users, ids, train.num_items, rounds=args.rounds, **base)
    seconds = time.perf_counter() - start
    records.append(
        ab_record(
            "speed: popularity vs bpr",
            "ml-1m",
            protocol.format(rounds=args.rounds),
            one,
            seconds,
            {"process": "one"},
        )
    )
    print(records[-1], flush=True)
    if not args.skip_ray:
        start = time.perf_counter()
        sharded = run_abtest_on_ray(
            policies, names, clicks, users, ids, train.num_items, workers=2, rounds=args.rounds, **base
        )
        extra = {
            "process": "local ray, 2 workers (incl. start-up)",
            "identical_to_one": bool(np.array_equal(sharded.clicks, one.clicks)),
        }
        records.append(
            ab_record(
                "speed: popularity vs bpr",
                "ml-1m",
                protocol.format(rounds=args.rounds),
                sharded,
                time.perf_counter() - start,
                extra,
            )
        )
        print(records[-1], flush=True)

    # Over HTTP: each arm's recommender saved and served by its own app (uvicorn in a thread).
    from serving.ports import free_port
    from simulators.abtest.local_servers import serve_models

    with tempfile.TemporaryDirectory() as folder:
        saved = {name: r.save(Path(folder) / name) for name, r in recommenders.items()}
        with serve_models(saved, Path(folder) / "feedback") as urls:
            http = [HTTPPolicy(urls[n], train.user_ids, train.item_ids, name=n) for n in names]
            try:
                start = time.perf_counter()
                remote = run_abtest(
                    http, names, clicks, users, ids, train.num_items, rounds=args.http_rounds, **base
                )
                seconds = time.perf_counter() - start
            finally:
                for policy in http:
                    policy.close()
    # In process with the server's arithmetic (one user per call), and batched as above.
    singles = [RecommenderPolicy(r, batch=1) for r in recommenders.values()]
    local = run_abtest(singles, names, clicks, users, ids, train.num_items, rounds=args.http_rounds, **base)
    batched = run_abtest(
        policies, names, clicks, users, ids, train.num_items, rounds=args.http_rounds, **base
    )

    def agreement(remote) -> dict:
        return {
            "identical_to_one": bool(
                np.array_equal(remote.clicks, local.clicks)
                and np.array_equal(remote.impressions, local.impressions)
            ),
            "users_differing_from_batched": int((remote.clicks != batched.clicks).any(0).sum()),
        }

    extra = {
        "process": "http: two serving apps under uvicorn, threads of this process",
        **agreement(remote),
    }
    records.append(
        ab_record(
            "speed: popularity vs bpr",
            "ml-1m",
            protocol.format(rounds=args.http_rounds),
            remote,
            seconds,
            extra,
        )
    )
    print(records[-1], flush=True)

    # The same over HTTP with each app in its own server process and 4 requests in flight per arm.
    with tempfile.TemporaryDirectory() as folder:
        processes, http = [], []
        try:
            for name, recommender in recommenders.items():
                saved = recommender.save(Path(folder) / name)
                port = free_port()
                env = {
                    **os.environ,
                    "ALIGNREC_MODEL_DIR": str(saved),
                    "ALIGNREC_FEEDBACK_URL": f"sqlite:///{Path(folder) / name}.db",
                }
                command = [sys.executable, "-m", "uvicorn", "--factory", "serving.main:create_app"]
                command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
                processes.append(subprocess.Popen(command, env=env))
                url = f"http://127.0.0.1:{port}"
                http.append(
                    HTTPPolicy(url, train.user_ids, train.item_ids, name=name, retries=8, concurrency=4)
                )
            for process, policy in zip(processes, http, strict=True):
                wait_ready(policy.client, process, seconds=300)
            start = time.perf_counter()
            remote = run_abtest(
                http, names, clicks, users, ids, train.num_items, rounds=args.http_rounds, **base
            )
            seconds = time.perf_counter() - start
        finally:
            for policy in http:
                policy.close()
            for process in processes:
                process.terminate()
                process.wait(30)
    extra = {
        "process": "http: two uvicorn server processes (1 worker each), 4 requests in flight per arm",
        **agreement(remote),
    }
    rounds = protocol.format(rounds=args.http_rounds)
    records.append(ab_record("speed: popularity vs bpr", "ml-1m", rounds, remote, seconds, extra))
    print(records[-1], flush=True)
    return records


def wait_ready(client, process, seconds: float) -> None:
    """Wait until a server process answers ``GET /healthz`` (loading a model takes a while on a busy
    machine); raise if it exits or does not answer within ``seconds``."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server process exited with code {process.returncode}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the server did not answer /healthz within {seconds} s")


def key(record: dict) -> tuple:
    return record["model"], record["dataset"], record["protocol"], record.get("process")


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {PARTS}")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--aa-runs", type=int, default=1000)
    parser.add_argument("--aa-rounds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100, help="LightGCN policy: most epochs")
    parser.add_argument("--world-epochs", type=int, default=100, help="ml100k-bpr: the BPR world's epochs")
    parser.add_argument("--seeds", type=int, default=20, help="planted part: further seeds for power")
    parser.add_argument("--aa-seeds", type=int, default=100, help="planted part: further seeds for A/A")
    parser.add_argument("--speed-users", type=int, default=1000)
    parser.add_argument("--http-rounds", type=int, default=50)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--lm-users", type=int, default=40, help="simulated-users: users the LM plays")
    parser.add_argument("--lm-rounds", type=int, default=2, help="simulated-users: rounds the LM plays")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"--parts: unknown {sorted(parts - set(PARTS))}; choose from {PARTS}")
    torch.set_num_threads(1)

    records = []
    if parts & {"ml100k", "ml100k-bpr", "calibration"}:
        records += ml100k(args, parts)
    if "planted" in parts:
        records += planted(args)
    if "calibration-planted" in parts:
        records.append(calibration_planted(args))
        print(records[-1], flush=True)
    if "speed" in parts:
        records += speed(args)
    if "simulated-users" in parts:
        records += simulated_users(args)
    path = RESULTS_DIR / "abtest.json"
    kept = json.loads(path.read_text()) if path.exists() else []
    new = {key(r) for r in records}
    write_results(
        "abtest", [r for r in kept if key(r) not in new] + records, title="Simulated A/B tests", notes=NOTES
    )


if __name__ == "__main__":
    main()
