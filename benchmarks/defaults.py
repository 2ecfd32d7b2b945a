"""Do the CLI defaults hold up on logs nobody tuned for? (issue 14)

Per data set and learned model this trains:
  default   exactly what ``alignrec train -m MODEL`` does: ``recsys.experiment.default_config`` from
            the ``train`` command's own option defaults (read from its signature, so a changed default
            is what runs here; per-model values in ``recsys.experiment.MODEL_DEFAULTS``);
  pop       MostPopular on the same split;
  lr sweep  the same defaults with other learning rates (``--lrs``), scored on VALIDATION only, to
            choose a per-model default learning rate across data sets (never on test); other fields
            are swept the same way by ``benchmarks.defaults_sweep`` (tables at the end). A change is
            kept when its mean validation ratio to the defaults is > 1 and no data set loses > 1%
            (``best_lr_by_worst_case`` below is the stricter worst-case view); where the data sets
            disagree (CML: ML-100K wants margin 1.0, Amazon Scientific >= 1.5), the point with the
            best worst-case validation ratio to the tuned model's validation score is taken;
  tuned     ``recsys.tuning.tune`` (what ``alignrec tune`` runs in process: trial 0 the defaults
            themselves, then TPE; median pruning on validation NDCG@10, never before ``min_epochs``),
            then the best configuration retrained and evaluated once on test.

Splits: ml-100k and amazon-fashion as ``alignrec train`` makes them (all ratings implicit, per-user
random 80/10/10, seed 2026); amazon-scientific the shipped leave-one-out split (test last item,
valid second last); ml-1m (``--datasets ml-1m``, not in the default list) as ml-100k. Test: full
ranking over all items, train+valid masked. Targets: default / pop >= 1.2 and default / tuned >=
0.97 on test NDCG@10. Every record carries its trial count (fewer than 30 when the CPU budget forced
it), seconds, CPU seconds, the CPU model and the load average.

    python -m benchmarks.defaults --datasets ml-100k --models bpr --trials 30
    python -m benchmarks.defaults --datasets amazon-fashion,amazon-scientific --models lightgcn,cml --lrs ""
    python -m benchmarks.defaults --summary      # the tables from the stored records only
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from pathlib import Path

from benchmarks.online import machine
from benchmarks.results_io import RESULTS_DIR, write_results

AREA = "defaults"
DATASETS = ("ml-100k", "amazon-fashion", "amazon-scientific")
PROTOCOLS = {
    "ml-100k": "ml-100k u.data, all ratings implicit; per-user random 80/10/10 seed 2026 (as alignrec "
    "train makes it); full ranking, train+valid masked",
    "amazon-fashion": "AMAZON_FASHION_5 (2018 5-core as shipped, no extra k-core or threshold), all reviews "
    "implicit; per-user random 80/10/10 seed 2026 (as alignrec train makes it); full ranking, "
    "train+valid masked",
    "amazon-scientific": "amazon-scientific-mm shipped leave-one-out split (test last, valid second last); "
    "full ranking, train+valid masked",
    "ml-1m": "ml-1m ratings_svdapprox.csv.gz (all 1,000,209 ratings, no timestamps), all implicit; per-user "
    "random 80/10/10 seed 2026 (as alignrec train makes it); full ranking, train+valid masked",
}
TARGET_POP, TARGET_TUNED = 1.2, 0.97


def load_split(dataset: str):
    """The split of ``dataset``: through the CLI's own ``prepare_split`` where the CLI would split it."""
    from alignrec.commands.recsys import Format, SplitKind, prepare_split
    from alignrec.settings import require_data
    from recsys.splits import with_protocol

    if dataset == "amazon-scientific":
        from benchmarks.multimodal import load_scientific

        return with_protocol(load_scientific()[0], dataset=dataset)
    path, fmt, item_col = {
        "ml-100k": ("ml-100k/u.data.gz", "movielens-100k", "item_id"),
        "amazon-fashion": ("amazon-fashion-2018/AMAZON_FASHION_5.jsonl.gz", "amazon", "item_id"),
        "ml-1m": ("ml-1m/ratings_svdapprox.csv.gz", "auto", "item_idx"),  # not in DATASETS: ask for it
    }[dataset]
    parts, _ = prepare_split(
        require_data(path),
        Format(fmt),
        "user_id",
        item_col,
        None,
        None,
        None,
        None,
        0,
        0,
        SplitKind.random,
        "0.8,0.1,0.1",
        None,
        2026,
        Path("/tmp/alignrec-defaults"),
    )
    return parts


def _defaults(command) -> dict[str, object]:
    return {name: p.default for name, p in inspect.signature(command).parameters.items()}


def cli_train_config(model: str):
    """The TrainConfig ``alignrec train -m MODEL`` builds when no option is given (through the same
    ``default_config``, from the command's own option defaults)."""
    from alignrec.commands.recsys import train
    from recsys.experiment import default_config

    d = _defaults(train)
    return default_config(
        model,
        dim=d["dim"],
        epochs=d["epochs"],
        batch_size=d["batch_size"],
        lr=d["lr"],
        reg=d["reg"],
        num_negatives=d["negatives"],
        num_layers=d["layers"],
        patience=d["patience"],
        min_epochs=d["min_epochs"],
        seed=d["seed"] if d["train_seed"] is None else d["train_seed"],
    )


def cli_tune_base(model: str):
    """The base TrainConfig ``alignrec tune -m MODEL`` searches around (its trial 0)."""
    from alignrec.commands.recsys import tune
    from recsys.experiment import default_config

    d = _defaults(tune)
    return default_config(
        model,
        epochs=d["epochs"],
        batch_size=d["batch_size"],
        patience=d["patience"],
        min_epochs=d["min_epochs"],
        seed=d["seed"],
    )


class Clock:
    """Wall and process CPU seconds since creation."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return round(time.perf_counter() - self.wall, 1), round(time.process_time() - self.cpu, 1)


def best_valid(result) -> float | None:
    values = [h["valid_ndcg@10"] for h in result.history if "valid_ndcg@10" in h]
    return round(max(values), 4) if values else None


def run_fields(result, seed: int, wall: float, cpu: float) -> dict[str, object]:
    """The fields every validation-study record carries about one training run (one thread)."""
    from benchmarks.online import machine

    return {
        "seed": seed,
        "valid_ndcg@10": best_valid(result),
        "test_ndcg@10": round(result.metrics["ndcg@10"], 4),
        "epochs": result.epochs_run,
        "seconds": wall,
        "cpu_seconds": cpu,
        **machine(),
        "threads": 1,
    }


def train_default(split, model: str, lr: float | None = None, seed: int | None = None) -> dict[str, object]:
    from dataclasses import replace

    from recsys.experiment import resolve_config, run_experiment

    config = resolve_config(cli_train_config(model), split.train)  # log fields filled (BPR, CML, LightGCN)
    if lr is not None:
        config = replace(config, lr=lr)
    if seed is not None:  # another training seed (``--train-seed``): same split
        config = replace(config, seed=seed)
    clock = Clock()
    result = run_experiment(split, config, progress=False)
    wall, cpu = clock.read()
    return {
        "lr": config.lr,
        "test_ndcg@10": round(result.metrics["ndcg@10"], 4),
        "valid_ndcg@10": best_valid(result),
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch + 1 if result.epochs_run else 0,
        "seconds": wall,
        "cpu_seconds": cpu,
    }


STUDIES = Path(".alignrec/bench/defaults")  # one Optuna study file per search: a killed run resumes


def study_file(dataset: str, model: str, base) -> Path:
    """The study file of one search; its name carries a hash of the base config, so a changed default
    starts a new search instead of resuming an old one."""
    import hashlib
    from dataclasses import asdict

    digest = hashlib.sha256(json.dumps(asdict(base), sort_keys=True, default=str).encode()).hexdigest()
    return STUDIES / f"{dataset}-{model}-{digest[:10]}.db"


def run_tune(
    split,
    dataset: str,
    model: str,
    trials: int,
    default: dict | None = None,
    default_config=None,
) -> dict[str, object]:
    """Tune on validation, stored trial by trial (rerunning after a kill resumes the search: its
    seconds then count only this process's part), then retrain the best and score it on test. When
    the best configuration equals ``default_config`` (the resolved ``TrainConfig`` that trained
    ``default``, seed included) the ``default`` run stands for the retrain."""
    import optuna

    from recsys.experiment import run_experiment
    from recsys.tuning import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    clock = Clock()
    base = cli_tune_base(model)
    db = study_file(dataset, model, base)
    resumed = db.exists()
    result = tune(split, base, trials=trials, seed=2026, progress=False, study_db=db)
    search_wall, search_cpu = clock.read()
    is_default = default is not None and result.best_config == default_config
    if is_default:
        tuned_test, tuned_epochs = default["test_ndcg@10"], default["epochs"]
    else:
        final = run_experiment(split, result.best_config, progress=False)
        tuned_test, tuned_epochs = round(final.metrics["ndcg@10"], 4), final.epochs_run
    wall, cpu = clock.read()
    states = [t["state"] for t in result.trials]
    return {
        "tuned_test_ndcg@10": tuned_test,
        "tuned_valid_ndcg@10": round(result.best_valid, 4),
        "tuned_epochs": tuned_epochs,
        "tuned_is_default": is_default,  # then the default run stands for the retrain
        "best_params": json.dumps({k: _round(v) for k, v in result.best_params.items()}),
        "trials": states.count("complete") + states.count("pruned"),  # what the search counts
        "trials_failed": states.count("fail"),  # left running by a killed process, then retried
        "trials_complete": states.count("complete"),
        "trials_pruned": states.count("pruned"),
        "tune_seconds": wall,
        "tune_cpu_seconds": cpu,
        "search_seconds": search_wall,
        "search_cpu_seconds": search_cpu,
        "study_resumed": resumed,
        "trial_table": [{k: _round(v) for k, v in t.items()} for t in result.trials],
    }


def _round(value: object) -> object:
    return float(f"{value:.4g}") if isinstance(value, float) else value


def ratio(a: object, b: object) -> float | None:
    return round(a / b, 3) if isinstance(a, float) and isinstance(b, float) and b > 0 else None


def pop_ndcg(split) -> float:
    from recsys.experiment import TrainConfig, run_experiment

    return round(run_experiment(split, TrainConfig(model="pop"), progress=False).metrics["ndcg@10"], 4)


def reusable_default(previous: dict | None, checksum: str, config: str, seed: int) -> dict | None:
    """``previous`` when its default run can stand for a new one: same split, same resolved config,
    same training seed; None otherwise (then the default is retrained)."""
    if not previous or not previous.get("lr_sweep"):
        return None
    same = (previous.get("split_checksum"), previous.get("default_config"), previous.get("train_seed"))
    return previous if same == (checksum, config, seed) else None


TUNE_KEYS = ("tuned_", "best_params", "trial", "tune_", "search_")
REFERENCE_LR = 1e-3  # the CLI's single default before issue 14; the sweep's ratios are against it


def run_one(
    split,
    dataset: str,
    model: str,
    trials: int,
    lrs: list[float],
    save,
    previous: dict | None = None,
    seed: int | None = None,
    reuse_default: bool = False,
) -> dict[str, object]:
    """One (model, dataset) record, saved after each stage so a timeout keeps what finished. With
    ``trials`` 0 the tuned figures of ``previous`` (an earlier record of the same pair) are kept. With
    ``reuse_default`` the default run (and the lr points) of ``previous`` are kept when it was made on
    the same split with the same resolved config and seed (see ``reusable_default``)."""
    from dataclasses import replace

    from recsys.experiment import resolve_config

    resolved = resolve_config(cli_train_config(model), split.train)  # as `alignrec train` trains it
    config = json.dumps({k: v for k, v in vars(resolved).items() if k not in ("model", "knn_k")})
    train_seed = seed if seed is not None else cli_train_config(model).seed
    kept = reusable_default(previous, split.checksum[:12], config, train_seed) if reuse_default else None
    default = kept["lr_sweep"][0] if kept else train_default(split, model, seed=seed)
    pop = kept["pop_test_ndcg@10"] if kept else pop_ndcg(split)
    record: dict[str, object] = {
        "model": model,
        "dataset": dataset,
        "protocol": PROTOCOLS[dataset],
        "split_checksum": split.checksum[:12],
        "default_config": config,  # as trained: the fields left to the log resolved on this split
        "default_test_ndcg@10": default["test_ndcg@10"],
        "default_valid_ndcg@10": default["valid_ndcg@10"],
        "default_epochs": default["epochs"],
        "default_best_epoch": default["best_epoch"],
        "default_seconds": default["seconds"],
        "default_cpu_seconds": default["cpu_seconds"],
        "pop_test_ndcg@10": pop,
        "default_over_pop": ratio(default["test_ndcg@10"], pop),
        "lr_sweep": list(kept["lr_sweep"]) if kept else [default],
        **machine(),
        "threads": 1,
        "train_seed": train_seed,
    }
    if kept:
        record["default_reused"] = True  # trained by an earlier run of this command
    save(record)
    done = {s["lr"] for s in record["lr_sweep"]}  # type: ignore[union-attr]
    for lr in lrs:
        if lr not in done:
            record["lr_sweep"].append(train_default(split, model, lr, seed))  # type: ignore[union-attr]
            save(record)
    if not trials and previous and "tuned_test_ndcg@10" in previous:
        record.update({k: v for k, v in previous.items() if k.startswith(TUNE_KEYS)})
        record["tuned_in_earlier_run"] = True  # the search does not depend on the default lr
        record["default_over_tuned"] = ratio(default["test_ndcg@10"], record["tuned_test_ndcg@10"])
        save(record)
    if trials:
        record.update(run_tune(split, dataset, model, trials, default, replace(resolved, seed=train_seed)))
        record["default_over_tuned"] = ratio(default["test_ndcg@10"], record["tuned_test_ndcg@10"])
        record.update(machine())
        save(record)
    return record


def lr_choice(records: list[dict]) -> list[dict]:
    """Per model, each swept learning rate's validation NDCG@10 over that of ``REFERENCE_LR`` on each
    data set, the rate with the best worst case, and whether it beats the reference everywhere."""
    rows = []
    for model in sorted({r["model"] for r in records}):
        mine = [r for r in records if r["model"] == model and len(r.get("lr_sweep", [])) > 1]
        if not mine:
            continue
        rates = sorted({s["lr"] for r in mine for s in r["lr_sweep"]})
        per_rate = {}
        for lr in rates:
            gains = []
            for r in mine:
                base = next((s["valid_ndcg@10"] for s in r["lr_sweep"] if s["lr"] == REFERENCE_LR), None)
                match = [s["valid_ndcg@10"] for s in r["lr_sweep"] if s["lr"] == lr]
                gains.append(round(match[0] / base, 3) if match and base else None)
            per_rate[lr] = gains
        complete = {lr: g for lr, g in per_rate.items() if all(x is not None for x in g)}
        best = max(complete, key=lambda lr: min(complete[lr])) if complete else None
        rows.append(
            {
                "model": model,
                "datasets": [r["dataset"] for r in mine],
                "cli_default_lr": cli_train_config(model).lr,
                "valid_ratio_to_lr_1e-3_by_lr": {str(lr): g for lr, g in per_rate.items()},
                "best_lr_by_worst_case": best,
                "beats_lr_1e-3_on_every_dataset": bool(best is not None and min(complete[best]) > 1.0),
            }
        )
    return rows


def table_md(records: list[dict]) -> str:
    """The headline table: one row per (model, dataset)."""
    head = (
        "| model | dataset | default lr | default N@10 | pop N@10 | tuned N@10 | default/pop | "
        "default/tuned | trials | best params | default s (cpu) | tune s (cpu) | load |"
    )
    lines = [head, "|" + "---|" * 13]
    for r in records:
        over_pop, over_tuned = r.get("default_over_pop"), r.get("default_over_tuned")
        flags = []
        if isinstance(over_pop, float) and over_pop < 1:
            flags.append("**below pop**")
        if TARGET_POP * r["pop_test_ndcg@10"] > 1:
            flags.append("1.2x pop > 1: unreachable")
        elif isinstance(over_pop, float) and 1 <= over_pop < TARGET_POP:
            flags.append("below 1.2x pop")
        if isinstance(over_tuned, float) and over_tuned < TARGET_TUNED:
            flags.append("below 0.97x tuned")
        trials = f"{r.get('trials', '-')}" + (" (earlier run)" if r.get("tuned_in_earlier_run") else "")
        cells = [
            r["model"],
            r["dataset"],
            f"{r['lr_sweep'][0]['lr']:g}" if r["model"] in ("bpr", "lightgcn", "cml") else "-",
            r["default_test_ndcg@10"],
            r["pop_test_ndcg@10"],
            r.get("tuned_test_ndcg@10", "-"),
            f"{over_pop} {', '.join(flags)}".strip(),
            over_tuned if over_tuned is not None else "-",
            trials,
            r.get("best_params", "-"),
            f"{r['default_seconds']} ({r['default_cpu_seconds']})",
            f"{r.get('tune_seconds', '-')} ({r.get('tune_cpu_seconds', '-')})",
            r["load_average"],
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    sweep = [
        "",
        "Learning-rate sweep (CLI defaults otherwise; validation NDCG@10 at the best epoch, test "
        "in brackets, never used for the choice):",
        "",
        "| model | dataset | " + " | ".join(["lr, valid (test), epochs"] * 3) + " |",
        "|" + "---|" * 5,
    ]
    for r in records:
        cells = [
            f"{s['lr']:g}: {s['valid_ndcg@10']} ({s['test_ndcg@10']}), {s['epochs']}" for s in r["lr_sweep"]
        ]
        sweep.append(f"| {r['model']} | {r['dataset']} | " + " | ".join(cells) + " |")
    return "\n".join(lines + sweep) + "\n"


MODEL_ORDER = ("bpr", "lightgcn", "cml", "itemknn")


def _order(record: dict) -> tuple:
    datasets = (*DATASETS, "ml-1m")
    return (
        datasets.index(record["dataset"]) if record["dataset"] in datasets else len(datasets),
        MODEL_ORDER.index(record["model"]) if record["model"] in MODEL_ORDER else len(MODEL_ORDER),
    )


def save_records(records: list[dict], notes: str, area: str = AREA) -> None:
    records = sorted(records, key=_order)  # by data set, then model
    flat = [{k: v for k, v in r.items() if k != "trial_table"} for r in records]
    write_results(area, records, title="CLI defaults across logs (issue 14)", notes=notes)
    md = RESULTS_DIR / f"{area}.md"
    from recsys.storage import write_text_atomic

    choice = json.dumps(lr_choice(records), indent=1)
    write_text_atomic(
        md,
        "# CLI defaults across logs (issue 14)\n\n"
        + notes.strip()
        + "\n\n"
        + table_md(records)
        + "\nLearning-rate choice (validation only):\n\n```json\n"
        + choice
        + "\n```\n"
        + sweep_md()
        + "\nAll fields:\n\n"
        + _flat_table(flat),
    )


def sweep_md() -> str:
    """The grid around the defaults (``benchmarks.defaults_sweep``, validation only), if it was run."""
    from benchmarks.defaults_sweep import AREA as SWEEP_AREA
    from benchmarks.defaults_sweep import choice_md

    path = RESULTS_DIR / f"{SWEEP_AREA}.json"
    if not path.exists():
        return ""
    return (
        "\n## Other defaults: a grid on validation (`python -m benchmarks.defaults_sweep`; every point in "
        f"`{SWEEP_AREA}.md`)\n\n" + choice_md(json.loads(path.read_text())) + "\n"
    )


def _flat_table(flat: list[dict]) -> str:
    from benchmarks.results_io import markdown_table

    return markdown_table([{k: v for k, v in r.items() if k != "lr_sweep"} for r in flat])


def search_only(datasets: list[str], models: list[str], trials: int, seed: int) -> None:
    """Trials of each stored search until it counts ``trials`` (the study file is shared: Optuna's
    SQLite storage lets several processes add trials to one study)."""
    import optuna

    from recsys.tuning import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for dataset in datasets:
        split = load_split(dataset)
        for model in models:
            base = cli_tune_base(model)
            result = tune(
                split,
                base,
                trials=trials,
                seed=seed,
                progress=False,
                study_db=study_file(dataset, model, base),
            )
            print(
                f"{dataset} {model}: {len(result.trials)} trials stored, best valid {result.best_valid:.4f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default="bpr,lightgcn,cml")
    parser.add_argument("--trials", type=int, default=30, help="tuning trials (0: no tuning)")
    parser.add_argument(
        "--lrs", default="1e-3,3e-3,1e-2", help="learning rates swept on validation (besides the default)"
    )
    parser.add_argument("--train-seed", type=int, default=None, help="training seed (default: the CLI's)")
    parser.add_argument("--area", default=AREA, help="results name under benchmarks/results/")
    parser.add_argument("--summary", action="store_true", help="only rewrite the tables from the records")
    parser.add_argument(
        "--reuse-default",
        action="store_true",
        help="keep the stored default run (and lr points) when split, resolved config and seed match",
    )
    parser.add_argument(
        "--search-only",
        type=int,
        default=None,
        metavar="SEED",
        help="only run trials of the stored studies with this sampler seed (no default run, no "
        "retrain, no record): a second process beside a running search, sharing its study file",
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    path = RESULTS_DIR / f"{args.area}.json"
    records = json.loads(path.read_text()) if path.exists() else []
    notes = __doc__.split("\n\n")[1] + "\n\n" + __doc__.split("\n\n")[2]
    if args.summary:
        save_records(records, notes, args.area)
        return
    if args.search_only is not None:
        search_only(args.datasets.split(","), args.models.split(","), args.trials, args.search_only)
        return
    lrs = [float(x) for x in args.lrs.split(",") if x]
    for dataset in args.datasets.split(","):
        split = load_split(dataset)
        for model in args.models.split(","):

            def save(record: dict, records_ref: list = records) -> None:
                key = (record["model"], record["dataset"])
                records_ref[:] = [r for r in records_ref if (r["model"], r["dataset"]) != key] + [record]
                save_records(records_ref, notes, args.area)

            previous = next((r for r in records if (r["model"], r["dataset"]) == (model, dataset)), None)
            record = run_one(
                split, dataset, model, args.trials, lrs, save, previous, args.train_seed, args.reuse_default
            )
            print(json.dumps({k: v for k, v in record.items() if k != "trial_table"}), flush=True)
    print(json.dumps(lr_choice(records), indent=1))


if __name__ == "__main__":
    main()
