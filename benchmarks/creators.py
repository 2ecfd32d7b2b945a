"""Creator simulation on ML-100K users: bounded- vs full-information creators under a popularity and a
personalised cold-start policy, 50 rounds (issue 13's creator benchmark, MovieLens-genre version).

Run: ``python -m benchmarks.creators [--rounds 50] [--creators 100]`` (needs ../shared/data; writes
``benchmarks/results/creators.json`` and ``.md``).

Users: the 943 ML-100K users, each with the genre taste of the movies they rated (unit-normalised
mean of the 19 genre flags of ``u.item``). Creators: 100, each owning a seeded random tenth of the
catalog; its topics are the genre mix of those movies (``initial_creators``). Every round a creator
produces an item with probability 0.7 (exploring an untried genre with probability 0.2) and leaves
when its last 5 items got no click, from round 15. Two fresh slots per user per round show new items,
ranked by clicks so far ("popularity") or by genre similarity to the user ("personalised"); a user
clicks with sigmoid((taste . genre - 0.5) / 0.1). Five seeds each; mean ± std over seeds.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.online import machine
from benchmarks.results_io import write_results


def main() -> None:
    from alignrec.settings import require_data
    from recsys.movie_catalog import read_ml100k_items
    from recsys.readers import read_movielens_100k
    from simulators.abtest.creators import CreatorConfig, initial_creators, run_creators

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--creators", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()

    log = read_movielens_100k(require_data("ml-100k/u.data.gz"))
    catalog = read_ml100k_items(require_data("ml-100k/u.item"), require_data("ml-100k/u.genre"))
    row = {int(m): k for k, m in enumerate(catalog.movie_ids)}
    genres = catalog.genre_matrix()[[row[int(m)] for m in log.item_ids]].astype(np.float64)  # (I, G)
    taste = np.zeros((log.num_users, genres.shape[1]))
    np.add.at(taste, log.users, genres[log.items])
    taste /= np.maximum(np.linalg.norm(taste, axis=1, keepdims=True), 1e-12)
    owner = np.random.default_rng(2026).integers(args.creators, size=log.num_items)
    topics = initial_creators(genres, owner, args.creators)
    records = []
    for policy in ("popularity", "personalised"):
        for full in (False, True):
            runs = [
                run_creators(
                    taste,
                    topics,
                    CreatorConfig(full_information=full),
                    policy=policy,
                    rounds=args.rounds,
                    seed=seed,
                )
                for seed in range(args.seeds)
            ]

            def stat(key: str, index: int = -1, runs=runs) -> tuple[float, float]:
                values = [r[key][index] for r in runs]
                return round(float(np.mean(values)), 4), round(float(np.std(values)), 4)

            retention = [r["active_creators"][-1] / args.creators for r in runs]
            entropy = [float(np.mean(r["genre_entropy"][-10:])) for r in runs]
            share = [sum(r["new_clicks"]) / max(sum(r["new_impressions"]), 1) for r in runs]
            records.append(
                {
                    "model": f"{'full' if full else 'bounded'}-information creators, {policy} cold start",
                    "dataset": "ml-100k",
                    "protocol": f"{args.creators} creators, 943 users, {args.rounds} rounds, 2 fresh slots, "
                    f"{args.seeds} seeds",
                    "creator_retention": round(float(np.mean(retention)), 4),
                    "creator_retention_std": round(float(np.std(retention)), 4),
                    "new_item_genre_entropy_last10": round(float(np.mean(entropy)), 4),
                    "new_item_ctr": round(float(np.mean(share)), 4),
                    "cold_item_success": stat("cold_success")[0],
                    "cold_item_success_std": stat("cold_success")[1],
                    "active_creators_round_15": stat("active_creators", 14)[0],
                    **machine(),
                }
            )
            print(records[-1], flush=True)
    notes = (
        "Creators see only feedback on their own items (bounded) or also every genre's platform-wide click "
        "share (full). `creator_retention`: share still active after the last round; "
        "`new_item_genre_entropy_last10`: entropy (nats) of the genres of items made in the last 10 rounds; "
        "`cold_item_success`: share of new items with at least one click. "
        "Rerun: `python -m benchmarks.creators`."
    )
    write_results("creators", records, title="Creators: retention and content diversity", notes=notes)


if __name__ == "__main__":
    main()
