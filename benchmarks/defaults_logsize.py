"""Where should BPR's (and CML's) small-log/large-log defaults switch? ML-1M with a random fraction of
its users kept (issue 14; ``recsys.models.bpr_defaults``).

The CLI's ML-1M split (random 80/10/10 per user, seed 2026) keeps all three parts of the users drawn
(seed 0) and drops the others; items keep their id space, so the ranking stays over all 3,706 items.
Keeping fewer users lowers every size statistic of the training log at once (events, events per item,
events per user-or-item embedding row) while events per user stay ML-1M's ~133. Each kept log trains
the model with the CLI defaults and each of two settings at two training seeds (CML: one): BPR the
SMALL and the LARGE setting of ``recsys.models.bpr_defaults``; CML the DENSE and the LARGE setting of
``recsys.models.cml_defaults`` (LARGE: the best point of the 30-trial ML-1M tune's first 18 trials,
rounded). The score is the best validation NDCG@10 (test recorded beside it, never used).

    python -m benchmarks.defaults_logsize --fractions 0.1,0.2,0.35,0.6,1.0
    python -m benchmarks.defaults_logsize --model cml --fractions 0.2,0.35,0.6,1.0 --seeds 2026
    python -m benchmarks.defaults_logsize --summary     # the table from the stored records only
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from benchmarks.defaults import PROTOCOLS, Clock, cli_train_config, load_split, ratio, run_fields
from benchmarks.results_io import RESULTS_DIR, write_results

AREA = "defaults_logsize"  # BPR; CML's records go to defaults_logsize_cml
SEEDS = (2026, 1)


def settings(model: str) -> list[tuple[str, dict]]:
    """The two settings compared for ``model``: the current one first, the candidate second."""
    if model == "bpr":
        from recsys.models.bpr_defaults import LARGE, SMALL

        return [("small", SMALL), ("large", LARGE)]
    if model == "cml":
        from recsys.models.cml_defaults import DENSE, LARGE

        return [("dense", DENSE), ("large", LARGE)]
    raise ValueError(f"model: expected bpr or cml, got {model!r}")


def area(model: str) -> str:
    return AREA if model == "bpr" else f"{AREA}_{model}"


def keep_users(split, fraction: float, seed: int = 0):
    """``split`` with only a random ``fraction`` of its users (seeded) in all three parts."""
    from recsys.data import Interactions
    from recsys.splits import Split

    if not 0 < fraction <= 1:
        raise ValueError(f"fraction: expected a share of users in (0, 1], got {fraction}")
    users = np.unique(split.train.users)
    drawn = np.random.default_rng(seed).permutation(users)[: max(1, round(fraction * users.size))]

    def part(p):
        mask = np.isin(p.users, drawn)
        return Interactions(
            p.users[mask], p.items[mask], p.num_users, p.num_items, user_ids=p.user_ids, item_ids=p.item_ids
        )

    protocol = {**split.protocol, "users_kept": fraction, "users_kept_seed": seed}
    return Split(part(split.train), part(split.valid), part(split.test), protocol)


def run_fraction(split, fraction: float, model: str = "bpr", seeds=SEEDS) -> list[dict[str, object]]:
    from recsys.experiment import run_experiment
    from recsys.models.log_size import active_counts, events_per_row

    kept = keep_users(split, fraction) if fraction < 1 else split
    train = kept.train
    users, items = active_counts(train)
    records = []
    for name, setting in settings(model):
        for seed in seeds:
            clock = Clock()
            config = replace(cli_train_config(model), seed=seed, **setting)
            result = run_experiment(kept, config, progress=False)
            wall, cpu = clock.read()
            records.append(
                {
                    "model": model,
                    "dataset": f"ml-1m {fraction:g} of users",
                    "protocol": PROTOCOLS["ml-1m"]
                    + f"; a random {fraction:g} of the users kept in all three parts (seed 0); score: best "
                    "validation NDCG@10 (test only recorded)",
                    "fraction": fraction,
                    "train_events": len(train),
                    "events_per_row": round(events_per_row(len(train), users, items), 1),
                    "events_per_item": round(len(train) / items, 1),
                    "setting": name,
                    "config": json.dumps(setting),
                    **run_fields(result, seed, wall, cpu),
                }
            )
            print(json.dumps(records[-1]), flush=True)
    return records


def summary(records: list[dict], model: str = "bpr") -> str:
    """Per fraction: mean validation NDCG@10 of each setting over the seeds, and candidate / current."""
    (a, _), (b, _) = settings(model)
    lines = [
        f"| users kept | train events | events per row | events per item | {a} valid | {b} valid | {b}/{a} |",
        "|---|---|---|---|---|---|---|",
    ]
    for fraction in sorted({r["fraction"] for r in records}):
        mine = [r for r in records if r["fraction"] == fraction]
        valid = {s: [r["valid_ndcg@10"] for r in mine if r["setting"] == s] for s in (a, b)}
        mean = {s: round(float(np.mean(v)), 4) for s, v in valid.items()}
        first = mine[0]
        lines.append(
            f"| {fraction:g} | {first['train_events']} | {first['events_per_row']} | "
            f"{first['events_per_item']} | {mean[a]} | {mean[b]} | {ratio(mean[b], mean[a])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="bpr", choices=["bpr", "cml"])
    parser.add_argument("--fractions", default="0.1,0.2,0.35,0.6,1.0", help="shares of ML-1M's users kept")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="training seeds per setting")
    parser.add_argument("--summary", action="store_true", help="only rewrite the table from the records")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    model = args.model
    path = RESULTS_DIR / f"{area(model)}.json"
    records = json.loads(path.read_text()) if path.exists() else []
    if not args.summary:
        split = load_split("ml-1m")
        seeds = [int(x) for x in args.seeds.split(",")]
        for fraction in (float(x) for x in args.fractions.split(",")):
            records = [r for r in records if r["fraction"] != fraction]
            records += run_fraction(split, fraction, model, seeds)
            _save(records, model)
    _save(records, model)
    print(summary(records, model))


def _save(records: list[dict], model: str) -> None:
    table = summary(records, model)
    seeds = sorted({r["seed"] for r in records})
    notes = f"{__doc__.split(chr(10) * 2)[1]}\n\nMeans over training seeds {seeds}:\n\n{table}"
    title = f"{model.upper()}'s small-log/large-log defaults on ML-1M user samples (issue 14)"
    write_results(area(model), records, title=title, notes=notes)


if __name__ == "__main__":
    main()
