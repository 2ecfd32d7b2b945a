"""Simulated A/B tests on ML-100K users: popularity vs LightGCN, A/A, A/A calibration, speed, Ray.

Run: ``python -m benchmarks.abtest [--rounds 50] [--aa-runs 1000]`` (needs ../shared/data; writes
``benchmarks/results/abtest.json`` and ``.md``).

World (the fast user simulator): an ItemKNN (k 100) fitted on *all* ML-100K events scores every
(user, item); a user clicks each of the k = 10 slate items independently with
sigmoid((score - bias) / temperature), the bias set so that a median-scored item is clicked 5% of
the time and the temperature the scores' standard deviation; a user who goes 5 rounds without a
click leaves. Policies are trained on the 80% train part of the per-user random 80/10/10 split (seed
2026) only: MostPopular and LightGCN (dim 64, 3 layers, lr 5e-3, early stop on valid). Users never
see an item twice. Arms by sha256(salt:user id) mod arms; one seeded generator per (user, round).

Statistics (``simulators.abtest``): user-level delta-method CTR comparison (fixed horizon) and an
always-valid mSPRT read after every round; "naive peeking" reads the fixed-horizon p-value after
every round and stops at the first p < 0.05. A/A calibration: ``--aa-runs`` A/A tests (LightGCN vs
itself) of ``--aa-rounds`` rounds, each with its own salt and seed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.online import machine
from benchmarks.results_io import write_results


def main() -> None:
    import torch

    from benchmarks.recsys import load_split
    from recsys.models.lightgcn import LightGCN
    from recsys.models.popularity import MostPopular
    from recsys.recommender import Recommender
    from recsys.train import fit
    from simulators.abtest.analysis import report
    from simulators.abtest.environment import RecommenderPolicy, itemknn_world, run_abtest, run_abtest_on_ray

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--aa-runs", type=int, default=1000)
    parser.add_argument("--aa-rounds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)

    split = load_split("ml-100k")
    train = split.train
    clicks = itemknn_world(split, k=100, base_rate=0.05)
    torch.manual_seed(2026)
    lightgcn_model = LightGCN(train.num_users, train.num_items, train.to_csr(), 64, 3, 1e-4)
    fit(lightgcn_model, train, valid=split.valid, epochs=args.epochs, lr=5e-3, patience=10, progress=False)
    lightgcn = Recommender(lightgcn_model, train.to_csr(), train.user_ids, train.item_ids)
    pop = Recommender(MostPopular(train), train.to_csr(), train.user_ids, train.item_ids)
    users, ids = np.arange(train.num_users), [str(u) for u in train.user_ids]
    base = {"rounds": args.rounds, "k": 10, "patience": 5, "seed": 2026}
    protocol = (
        f"ML-100K {len(users)} users, {args.rounds} rounds, k 10; world: ItemKNN on all events, 5% base "
        "click rate; policies trained on the 80% train split; user-level delta method; mSPRT tau = 20% of "
        "control CTR"
    )
    records = []

    def ab_record(name: str, result, seconds: float, extra: dict) -> dict:
        numbers = report(result)
        comparison = next(iter(numbers["comparisons"].values()))
        decisions = int((result.impressions > 0).sum())
        return {
            "model": name,
            "dataset": "ml-100k",
            "protocol": protocol,
            **{f"ctr_{arm}": round(v["ctr"], 5) for arm, v in numbers["arms"].items()},
            **{f"retention_{arm}": round(v["retention"], 4) for arm, v in numbers["arms"].items()},
            **{f"coverage_{arm}": round(v["coverage"], 4) for arm, v in numbers["arms"].items()},
            **{f"exposure_gini_{arm}": round(v["exposure_gini"], 4) for arm, v in numbers["arms"].items()},
            **{
                f"clicks_per_user_{arm}": round(v["clicks_per_user"], 3) for arm, v in numbers["arms"].items()
            },
            "clicks_per_user_difference": round(comparison["clicks_per_user"]["difference"], 3),
            "clicks_per_user_p_value": comparison["clicks_per_user"]["p_value"],
            "difference": round(comparison["difference"], 5),
            "ci_low": round(comparison["ci_low"], 5),
            "ci_high": round(comparison["ci_high"], 5),
            "p_value": comparison["p_value"],
            "significant": comparison["significant"],
            "sequential_stop_round": comparison["sequential_stop_round"],
            "difference_at_stop": comparison["difference_at_stop"],
            "naive_peek_round": comparison["naive_peek_round"],
            "seconds": round(seconds, 2),
            "slates_per_s": round(decisions / seconds, 1),
            **extra,
            **machine(),
        }

    for name, policies, names in (
        (
            "popularity vs lightgcn",
            [RecommenderPolicy(pop), RecommenderPolicy(lightgcn)],
            ["pop", "lightgcn"],
        ),
        ("a/a lightgcn", [RecommenderPolicy(lightgcn), RecommenderPolicy(lightgcn)], ["a", "b"]),
    ):
        start = time.perf_counter()
        result = run_abtest(policies, names, clicks, users, ids, train.num_items, salt=name, **base)
        records.append(ab_record(name, result, time.perf_counter() - start, {"process": "one"}))
        print(records[-1], flush=True)
        if not args.skip_ray and name.startswith("popularity"):
            start = time.perf_counter()
            sharded = run_abtest_on_ray(
                policies, names, clicks, users, ids, train.num_items, workers=2, salt=name, **base
            )
            same = bool(np.array_equal(sharded.clicks, result.clicks))
            records.append(
                ab_record(
                    name,
                    sharded,
                    time.perf_counter() - start,
                    {"process": "local ray, 2 workers (incl. start-up)", "identical_to_one": same},
                )
            )
            print(records[-1], flush=True)

    # A/A calibration: each run a fresh salt (assignment) and seed (clicks).
    start = time.perf_counter()
    fixed, sequential, naive = [], [], []
    policies = [RecommenderPolicy(lightgcn), RecommenderPolicy(lightgcn)]
    for run in range(args.aa_runs):
        result = run_abtest(
            policies,
            ["a", "b"],
            clicks,
            users,
            ids,
            train.num_items,
            rounds=args.aa_rounds,
            k=10,
            patience=5,
            seed=run,
            salt=f"aa-{run}",
        )
        comparison = report(result)["comparisons"]["b"]
        fixed.append(comparison["significant"])
        sequential.append(comparison["sequential_stop_round"] is not None)
        naive.append(comparison["naive_peek_round"] is not None)
    seconds = time.perf_counter() - start
    records.append(
        {
            "model": "a/a calibration (lightgcn vs itself)",
            "dataset": "ml-100k",
            "protocol": f"{args.aa_runs} A/A runs, {len(users)} users x {args.aa_rounds} rounds each, own "
            "salt and seed; alpha 0.05",
            "fixed_horizon_false_positive_rate": round(float(np.mean(fixed)), 4),
            "sequential_false_positive_rate": round(float(np.mean(sequential)), 4),
            "naive_peeking_false_positive_rate": round(float(np.mean(naive)), 4),
            "runs": args.aa_runs,
            "seconds": round(seconds, 1),
            **machine(),
        }
    )
    print(records[-1], flush=True)
    notes = (
        "Simulated A/B tests (issue 13). Rerun: `python -m benchmarks.abtest`. `sequential_stop_round`: "
        "first round whose always-valid mSPRT p-value < 0.05; `naive_peek_round`: first round whose "
        "fixed-horizon p-value < 0.05 (what daily peeking would stop at). Creators are not simulated yet."
    )
    write_results("abtest", records, title="Simulated A/B tests: ML-100K users", notes=notes)


if __name__ == "__main__":
    main()
