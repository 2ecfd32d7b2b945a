"""Where should CML's sparse/dense rule switch? ML-100K's training part thinned to at most K random
events per user (issue 14; ``recsys.models.cml_defaults``).

Validation and test stay ML-100K's own (the CLI's random 80/10/10 split, seed 2026); only the training
part loses events, so the log's events per user fall from 85 to about K. Each thinned log trains CML
with the CLI defaults and the SPARSE and the DENSE setting of ``recsys.models.cml_defaults`` at two
training seeds; the score is the best validation NDCG@10 (test recorded beside it, not used). The
rule's threshold, 12 events per user, was read off this table: the sparse setting wins below it, the
dense one above.

    python -m benchmarks.defaults_density --caps 8,10,12,16,24,32
    python -m benchmarks.defaults_density --summary     # the table from the stored records only
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from benchmarks.defaults import PROTOCOLS, Clock, cli_train_config, load_split, ratio, run_fields
from benchmarks.results_io import RESULTS_DIR, write_results

AREA = "defaults_density"
SEEDS = (2026, 1)


def cap_per_user(train, cap: int, seed: int):
    """``train`` with at most ``cap`` events per user, kept at random (seeded); id spaces unchanged."""
    from recsys.data import Interactions

    if cap < 1:
        raise ValueError(f"cap: expected at least 1 event per user, got {cap}")
    order = np.random.default_rng(seed).permutation(len(train))  # a random rank for every event
    users = train.users[order]
    first = np.lexsort((np.arange(len(users)), users))  # by user, random order within a user
    sorted_users = users[first]
    starts = np.searchsorted(sorted_users, sorted_users, side="left")
    rank = np.arange(len(users)) - starts  # (N,) position of each event within its user
    keep = np.sort(order[first[rank < cap]])
    return Interactions(
        train.users[keep],
        train.items[keep],
        train.num_users,
        train.num_items,
        user_ids=train.user_ids,
        item_ids=train.item_ids,
    )


def run_cap(split, cap: int) -> list[dict[str, object]]:
    from recsys.experiment import run_experiment
    from recsys.models.cml_defaults import DENSE, SPARSE
    from recsys.splits import Split

    train = cap_per_user(split.train, cap, seed=0)
    thinned = Split(train, split.valid, split.test, {**split.protocol, "train_cap_per_user": cap})
    rate = round(len(train) / np.unique(train.users).size, 1)
    records = []
    for name, setting in (("sparse", SPARSE), ("dense", DENSE)):
        for seed in SEEDS:
            clock = Clock()
            result = run_experiment(
                thinned, replace(cli_train_config("cml"), seed=seed, **setting), progress=False
            )
            wall, cpu = clock.read()
            records.append(
                {
                    "model": "cml",
                    "dataset": f"ml-100k train <= {cap}/user",
                    "protocol": PROTOCOLS["ml-100k"] + f"; train part thinned to <= {cap} random events per "
                    "user (seed 0); score: best validation NDCG@10 (test only recorded)",
                    "cap": cap,
                    "events_per_user": rate,
                    "setting": name,
                    "config": str(setting),
                    **run_fields(result, seed, wall, cpu),
                }
            )
            print(records[-1], flush=True)
    return records


def summary(records: list[dict]) -> str:
    """Per cap: mean validation NDCG@10 of each setting over the seeds, and sparse / dense."""
    lines = ["| cap | events/user | sparse valid | dense valid | sparse/dense |", "|---|---|---|---|---|"]
    for cap in sorted({r["cap"] for r in records}):
        mine = [r for r in records if r["cap"] == cap]
        mean = {
            s: round(float(np.mean([r["valid_ndcg@10"] for r in mine if r["setting"] == s])), 4)
            for s in ("sparse", "dense")
        }
        ratio_ = ratio(mean["sparse"], mean["dense"])
        lines.append(
            f"| {cap} | {mine[0]['events_per_user']} | {mean['sparse']} | {mean['dense']} | {ratio_} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--caps", default="8,10,12,16,24,32", help="events per user kept in training")
    parser.add_argument("--summary", action="store_true", help="only rewrite the table from the records")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.summary:
        records = json.loads((RESULTS_DIR / f"{AREA}.json").read_text())
    else:
        split = load_split("ml-100k")
        records = [r for cap in args.caps.split(",") for r in run_cap(split, int(cap))]
    notes = (
        __doc__.split("\n\n")[1] + "\n\nMeans over training seeds " + str(SEEDS) + ":\n\n" + summary(records)
    )
    write_results(
        AREA, records, title="CML's sparse/dense defaults on thinned ML-100K (issue 14)", notes=notes
    )
    print(summary(records))


if __name__ == "__main__":
    main()
