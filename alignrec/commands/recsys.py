"""``alignrec train / evaluate / recommend``: recommenders from interaction logs.

Heavy modules (torch, pandas, mlflow, the models) are imported inside the commands, so that
``alignrec --help`` starts fast; the name lists below are checked against the library by a test.
"""

from __future__ import annotations

import json
import sys
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from recsys.data import Interactions
    from recsys.experiment import ExperimentResult

console = Console()

MODEL_NAMES = ("pop", "itemknn", "bpr", "lightgcn", "cml")  # = recsys.experiment.MODEL_NAMES
READER_NAMES = (
    "movielens-100k",
    "movielens-1m",
    "movielens-latest",
    "amazon",
    "mmrec",
)  # = recsys.readers.READERS
Model = Enum("Model", {name: name for name in MODEL_NAMES}, type=str)  # type: ignore[misc]
Format = Enum("Format", {name: name for name in ("auto", *READER_NAMES)}, type=str)  # type: ignore[misc]


class SplitKind(StrEnum):
    random = "random"
    loo = "loo"
    temporal = "temporal"


# Options shared by `train` and `tune`: how to read a log and split it.
DataOpt = Annotated[
    Path | None, typer.Option(help="Interaction log (CSV/TSV/Parquet/JSONL). Omit for synthetic data.")
]
FormatOpt = Annotated[
    Format, typer.Option("--format", help="Reader for a public format, or 'auto' to use the column options.")
]
UserColOpt = Annotated[str, typer.Option(help="User column (format auto).")]
ItemColOpt = Annotated[str, typer.Option(help="Item column (format auto).")]
RatingColOpt = Annotated[str | None, typer.Option(help="Rating column, if any (format auto).")]
TimeColOpt = Annotated[str | None, typer.Option(help="Timestamp column, if any (format auto).")]
SepOpt = Annotated[
    str | None,
    typer.Option(
        help="Field separator of a text log: ',', ';', '|', '::' or '\\t' (default: detected from its first lines)."
    ),
]
ThresholdOpt = Annotated[
    float | None, typer.Option(help="Keep events with rating >= this (implicit feedback).")
]
MinUserOpt = Annotated[int, typer.Option(help="k-core: minimum events per user (0 = no filter).")]
MinItemOpt = Annotated[int, typer.Option(help="k-core: minimum events per item (0 = no filter).")]
BatchSizeOpt = Annotated[
    int | None,
    typer.Option(
        help="Training events per step (default 2048; LightGCN from the training log: a step propagates the "
        "whole graph, so above 81,920 training events the batch grows to keep ~40 steps an epoch, e.g. "
        "20,480 on ML-1M; the run summary says what it took)."
    ),
]
SplitOpt = Annotated[
    SplitKind,
    typer.Option(help="random: per-user ratio; loo: leave-one-out by time; temporal: global time cut."),
]
RatiosOpt = Annotated[str, typer.Option(help="train,valid,test fractions for random/temporal splits.")]
SplitFileOpt = Annotated[
    str | None,
    typer.Option(
        help="Use a given split instead of splitting: a saved .npz, or three logs TRAIN,VALID,TEST (CSV/TSV with the column options)."
    ),
]


def load_log(
    data: Path | None,
    fmt: str,
    user_col: str,
    item_col: str,
    rating_col: str | None,
    time_col: str | None,
    synthetic_seed: int,
    sep: str | None = None,
) -> tuple[Interactions, str]:
    """The log and a name for it: a file through a reader or a column mapping, or synthetic data."""
    from recsys.readers import READERS, read_interactions
    from recsys.synthetic import make_interactions

    if data is None:
        return make_interactions(seed=synthetic_seed)[0], f"synthetic(seed={synthetic_seed})"
    if fmt != "auto":
        return READERS[fmt](data), data.name
    columns = {"user": user_col, "item": item_col}
    if rating_col:
        columns["rating"] = rating_col
    if time_col:
        columns["timestamp"] = time_col
    return read_interactions(data, columns, sep=sep), data.name


def print_results(results: list[ExperimentResult], ks: tuple[int, ...] = (10, 20)) -> None:
    table = Table(
        title="Test metrics (full ranking over all items, train+valid masked)",
        caption="R = Recall, N = NDCG; s/epoch = training seconds per epoch",
    )
    table.add_column("model")
    keys = [f"{m}@{k}" for k in ks for m in ("recall", "ndcg")]
    for key in keys:
        table.add_column(key[0].upper() + key[key.index("@") :], justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("s/epoch", justify="right")
    table.add_column("fit s", justify="right")
    for r in results:
        table.add_row(
            r.model,
            *[f"{r.metrics[k]:.4f}" for k in keys],
            str(r.epochs_run or "-"),
            f"{r.seconds_per_epoch:.3f}" if r.epochs_run else "-",
            f"{r.fit_seconds:.1f}",
        )
    console.print(table)


def prepare_split(
    data: Path | None,
    format: Format,  # noqa: A002
    user_col: str,
    item_col: str,
    rating_col: str | None,
    time_col: str | None,
    sep: str | None,
    threshold: float | None,
    min_user: int,
    min_item: int,
    split: SplitKind,
    ratios: str,
    split_file: str | None,
    seed: int,
    out: Path,
):
    """The split the options describe, and the users/items filtering removed (with the reason)."""
    from recsys.data import k_core, to_implicit
    from recsys.splits import load_split, make_split, with_protocol

    if sep in ("\\t", "tab"):
        sep = "\t"  # what a shell passes for --sep '\t'
    filtered: dict[str, dict[str, str]] = {"users": {}, "items": {}}
    if split_file is not None:
        ignored = [
            name
            for name, value in (
                ("--data", data),
                ("--threshold", threshold),
                ("--min-user", min_user),
                ("--min-item", min_item),
            )
            if value
        ]
        if ignored:
            raise typer.BadParameter(
                f"a given split is used as it is: drop {', '.join(ignored)}", param_hint="--split-file"
            )
        files = [Path(p) for p in split_file.split(",")]
        if len(files) == 1 and files[0].suffix == ".npz":
            parts = load_split(files[0])
        elif len(files) == 3:
            from recsys.splits import split_from_logs

            columns = {"user": user_col, "item": item_col}
            if rating_col:
                columns["rating"] = rating_col
            if time_col:
                columns["timestamp"] = time_col
            parts = split_from_logs(tuple(files), columns, sep)
        else:
            raise typer.BadParameter(
                "give a saved split .npz, or three files TRAIN,VALID,TEST", param_hint="--split-file"
            )
        console.print(f"Loaded {parts.describe()}")
    else:
        if sep is not None and format.value != "auto":
            raise typer.BadParameter(
                "--sep applies to --format auto; the public formats have fixed separators", param_hint="--sep"
            )
        if threshold is not None and data is not None and format.value == "auto" and rating_col is None:
            from recsys.readers import read_header

            raise typer.BadParameter(
                f"--threshold keeps events with rating >= {threshold}, but no rating column is read: add "
                f"--rating-col NAME (columns of {data.name}: {', '.join(read_header(data, sep))})",
                param_hint="--threshold",
            )
        log, name = load_log(data, format.value, user_col, item_col, rating_col, time_col, seed, sep)
        raw = log
        log = to_implicit(log, threshold)
        _record_dropped(filtered, raw, log, f"all their events are below --threshold {threshold}")
        if min_user or min_item:
            before = log
            log = k_core(log, min_user, min_item)
            _record_dropped(
                filtered,
                before,
                log,
                f"too few events for the k-core (--min-user {min_user}, --min-item {min_item})",
            )
        if filtered["users"] or filtered["items"]:
            console.print(
                f"Filtered out: {len(filtered['users'])} users and {len(filtered['items'])} items "
                f"(listed with the reason in {out / FILTERED_FILE})"
            )
        fractions = tuple(float(x) for x in ratios.split(","))
        if len(fractions) != 3:
            raise typer.BadParameter(f"--ratios needs three numbers, got {ratios!r}")
        parts = make_split(log, split.value, fractions, seed)  # type: ignore[arg-type]
        parts = with_protocol(
            parts, dataset=name, threshold=threshold, k_core=[min_user, min_item], drops=log.stats
        )
        console.print(f"Data {name}: {log.stats}")
        console.print(parts.describe())
    return parts, filtered


def warn_below_popularity(results: list[ExperimentResult], parts) -> None:
    """Say so when a learned model ends below MostPopular on the same test split (NDCG@10)."""
    learned = [r for r in results if r.model != "pop"]
    if not learned:
        return
    pop = next((r for r in results if r.model == "pop"), None)
    if pop is None:
        from recsys.experiment import TrainConfig, run_experiment

        pop = run_experiment(parts, TrainConfig(model="pop"), progress=False)
    for result in learned:
        if result.metrics["ndcg@10"] < pop.metrics["ndcg@10"]:
            console.print(
                f"[bold yellow]warning:[/bold yellow] {result.model} ends below MostPopular on test NDCG@10 "
                f"({result.metrics['ndcg@10']:.4f} < {pop.metrics['ndcg@10']:.4f}): try `alignrec tune -m "
                f"{result.model}` or a larger --lr / --epochs"
            )


def train(
    data: DataOpt = None,
    format: FormatOpt = Format.auto,  # noqa: A002,B008
    user_col: UserColOpt = "user_id",
    item_col: ItemColOpt = "item_id",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = None,
    threshold: ThresholdOpt = None,
    min_user: MinUserOpt = 0,
    min_item: MinItemOpt = 0,
    split: SplitOpt = SplitKind.random,
    ratios: RatiosOpt = "0.8,0.1,0.1",
    split_file: SplitFileOpt = None,
    model: Annotated[
        list[Model], typer.Option("--model", "-m", help="Model(s) to train; repeat for several.")
    ] = [Model.bpr],  # noqa: B006,B008
    dim: Annotated[
        int | None,
        typer.Option(
            help="Embedding size (default 64; LightGCN 128; BPR and CML from the training log, see "
            "docs/recsys.md: BPR 128 from 65 events per user-or-item, else 64; CML 128 below 12 events per "
            "user, else 64; the run summary says what it took)."
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs (default 100; CML 200).")] = None,
    batch_size: BatchSizeOpt = None,
    lr: Annotated[
        float | None,
        typer.Option(
            help="Adam learning rate (default per model, chosen on validation across logs: LightGCN 1e-2; "
            "BPR 3e-3, or 1e-3 from 65 training events per user-or-item; CML 4.5e-3, or 6e-4 from 40)."
        ),
    ] = None,
    reg: Annotated[
        float | None,
        typer.Option(
            help="L2 weight on batch embeddings (LightGCN 1e-3; BPR 1e-2, or 5e-4 on a log with >= 65 "
            "training events per user-or-item)."
        ),
    ] = None,
    negatives: Annotated[
        int | None,
        typer.Option(
            help="Negatives per event (BPR and LightGCN 4; CML from the training log: 10 on a dense log, "
            "else 5)."
        ),
    ] = None,
    layers: Annotated[int, typer.Option(help="LightGCN propagation layers.")] = 3,
    patience: Annotated[
        int, typer.Option(help="Evaluations without validation NDCG@10 gain before stopping (0: never).")
    ] = 10,
    min_epochs: Annotated[
        int,
        typer.Option(
            help="No early stop before this epoch (a guard for models that start near a popularity optimum)."
        ),
    ] = 20,
    seed: Annotated[int, typer.Option(help="Seed for the split (and training, unless --train-seed).")] = 2026,
    train_seed: Annotated[
        int | None, typer.Option(help="Seed for initialisation and sampling (default: --seed).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads (default: torch's choice).")] = None,
    out: Annotated[Path, typer.Option(help="Run folder: split, models, metrics.")] = Path(
        ".alignrec/runs/latest"
    ),
    resume: Annotated[bool, typer.Option(help="Continue torch models from their last checkpoint.")] = False,
    track: Annotated[bool, typer.Option(help="Log runs to MLflow.")] = True,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "alignrec",
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default sqlite under .alignrec).")
    ] = None,
    register: Annotated[
        str | None, typer.Option(help="Register each trained model in MLflow under NAME-<model>.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option(help="No progress bars (they are off anyway when stderr is not a terminal).")
    ] = False,
) -> None:
    """Train recommenders on a log, evaluate them with full ranking and save them under OUT."""
    import torch

    from alignrec.settings import tracking_uri as default_tracking_uri
    from recsys.experiment import default_config, log_defaults_note, run_experiment
    from recsys.splits import save_split

    if threads:
        torch.set_num_threads(threads)
    parts, filtered = prepare_split(
        data,
        format,
        user_col,
        item_col,
        rating_col,
        time_col,
        sep,
        threshold,
        min_user,
        min_item,
        split,
        ratios,
        split_file,
        seed,
        out,
    )
    save_split(parts, out / "split.npz")
    from recsys.storage import write_text_atomic

    write_text_atomic(out / FILTERED_FILE, json.dumps(filtered))
    store = tracking_uri or default_tracking_uri()
    if track:
        console.print(f"[dim]MLflow store: {store} (browse: mlflow ui --backend-store-uri {store})[/dim]")
    results = []
    for chosen in model:
        config = default_config(  # an option left at None takes the model's default
            chosen.value,
            dim=dim,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            reg=reg,
            num_negatives=negatives,
            num_layers=layers,
            patience=patience,
            min_epochs=min_epochs,
            seed=seed if train_seed is None else train_seed,
        )
        note = log_defaults_note(config, parts.train)
        if note:
            console.print(f"{chosen.value} defaults from the training log: {note}")
        callbacks = []
        if track:
            from recsys.tracking import MlflowCallback

            tracker = MlflowCallback(
                experiment,
                run_name=chosen.value,
                tracking_uri=store,
                register_as=f"{register}-{chosen.value}" if register else None,
            )
            callbacks.append(tracker)
        result = run_experiment(
            parts, config, out / chosen.value, callbacks=callbacks, resume=resume, progress=not quiet
        )
        if track:
            console.print(f"[dim]{chosen.value}: MLflow run {tracker.run_id}[/dim]")
        results.append(result)
    print_results(results)
    warn_below_popularity(results, parts)
    console.print(f"Saved split and models under {out}")


FILTERED_FILE = "filtered.json"  # users and items the threshold or k-core removed, with the reason


def _record_dropped(filtered: dict[str, dict[str, str]], before, after, reason: str) -> None:
    """Note the users and items of ``before`` that ``after`` no longer has."""
    for kind, old, new in (
        ("users", before.user_ids, after.user_ids),
        ("items", before.item_ids, after.item_ids),
    ):
        if old is None or new is None:
            continue
        kept = {str(x) for x in new}
        for x in map(str, old):
            if x not in kept:
                filtered[kind].setdefault(x, reason)


def _load(run: Path, model: str):
    from recsys.experiment import RECOMMENDER_DIR
    from recsys.recommender import Recommender

    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no run folder there (train one with `alignrec train --out {run}`)")
    return Recommender.load(run / model / RECOMMENDER_DIR)


def evaluate(
    run: Annotated[Path, typer.Option(help="Run folder written by `alignrec train`.")] = Path(
        ".alignrec/runs/latest"
    ),
    model: Annotated[
        list[Model] | None, typer.Option("--model", "-m", help="Trained model(s) of the run (default: all).")
    ] = None,
    ks: Annotated[str, typer.Option(help="Cut-offs, comma-separated.")] = "10,20,50",
) -> None:
    """Re-evaluate saved models on their run's test split (full ranking, train+valid masked)."""
    import torch

    from recsys.evaluate import evaluate_scores
    from recsys.experiment import RECOMMENDER_DIR
    from recsys.splits import load_split

    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no run folder there (train one with `alignrec train --out {run}`)")
    names = (
        [m.value for m in model] if model else sorted(p.parent.name for p in run.glob(f"*/{RECOMMENDER_DIR}"))
    )
    if not names:
        raise FileNotFoundError(f"{run}: no trained models in this run folder")
    parts = load_split(run / "split.npz")
    cutoffs = tuple(int(k) for k in ks.split(","))
    for name in names:
        recommender = _load(run, name)
        with torch.no_grad():
            result = evaluate_scores(
                lambda u, r=recommender: r.model.scores(torch.from_numpy(u)),
                parts.test,
                recommender.known,
                ks=cutoffs,
                protocol={**parts.protocol, "split_checksum": parts.checksum},
            )
        table = Table(title=f"{name}: {result.num_users} test users, {result.seconds:.2f} s")
        table.add_column("metric")
        for k in cutoffs:
            table.add_column(f"@{k}", justify="right")
        for metric in ("recall", "ndcg", "hit", "mrr", "precision", "coverage"):
            table.add_row(metric, *[f"{result.metrics[f'{metric}@{k}']:.4f}" for k in cutoffs])
        console.print(table)
    console.print(f"protocol: {json.dumps(result.protocol, default=str)}")


def recommend(
    user: Annotated[
        str | None, typer.Option(help="Original user id (omit for an anonymous user with --recent).")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="Number of items.")] = 10,
    run: Annotated[Path, typer.Option(help="Run folder written by `alignrec train`.")] = Path(
        ".alignrec/runs/latest"
    ),
    model: Annotated[
        Model, typer.Option("--model", "-m", help="Which trained model of the run.")
    ] = Model.bpr,
    recent: Annotated[
        list[str] | None,
        typer.Option(
            help="Item id the user interacted with recently (repeatable); drives item-to-item answers for users the model does not know."
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Item id not to recommend (repeatable), on top of the user's history."),
    ] = None,
    include_known: Annotated[
        bool, typer.Option(help="Allow items the user already had in training.")
    ] = False,
    index: Annotated[
        Path | None,
        typer.Option(
            help="Answer through this FAISS index folder (`alignrec index build`) instead of exact scoring."
        ),
    ] = None,
) -> None:
    """Top-k items for one user (known items excluded); unknown users get a cold-start answer."""
    recommender = _load(run, model.value)
    if index is not None:
        from recsys.index import ItemIndex

        recommender.index = ItemIndex.load(index)
    answer = recommender.recommend(
        user, k, recent_items=recent, exclude=exclude, exclude_known=not include_known
    )
    who = f"user {user}" if user is not None else "an anonymous user"
    table = Table(title=f"Top {k} for {who} ({model.value}, answered by: {answer.source})")
    table.add_column("rank", justify="right")
    table.add_column("item")
    table.add_column("score", justify="right")
    for rank, (item, score) in enumerate(answer.pairs(), start=1):
        table.add_row(str(rank), item, f"{score:.4f}")
    console.print(table)
    if user is not None and recommender.user_index(user) is None:
        filtered = run / FILTERED_FILE
        reason = json.loads(filtered.read_text())["users"].get(str(user)) if filtered.is_file() else None
        why = f"filtered out when training ({reason})" if reason else "not in the training log"
        console.print(f"[yellow]user {user!r} is {why}: {answer.source} answer[/yellow]")
    if answer.ignored_items:
        console.print(f"[yellow]not in the catalog, ignored: {', '.join(answer.ignored_items)}[/yellow]")


TUNABLE = ("bpr", "lightgcn", "cml", "itemknn")  # = recsys.tuning.SPACES
Tunable = Enum("Tunable", {name: name for name in TUNABLE}, type=str)  # type: ignore[misc]


def tune(
    model: Annotated[Tunable, typer.Option("--model", "-m", help="Model to tune.")],
    data: DataOpt = None,
    format: FormatOpt = Format.auto,  # noqa: A002,B008
    user_col: UserColOpt = "user_id",
    item_col: ItemColOpt = "item_id",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = None,
    threshold: ThresholdOpt = None,
    min_user: MinUserOpt = 0,
    min_item: MinItemOpt = 0,
    split: SplitOpt = SplitKind.random,
    ratios: RatiosOpt = "0.8,0.1,0.1",
    split_file: SplitFileOpt = None,
    trials: Annotated[
        int, typer.Option(help="Trials (Optuna TPE; median pruning on validation NDCG@10).")
    ] = 30,
    epochs: Annotated[
        int | None, typer.Option(help="Maximum epochs per trial (default 100; CML 200).")
    ] = None,
    batch_size: BatchSizeOpt = None,
    patience: Annotated[int, typer.Option(help="Early-stopping patience within a trial.")] = 10,
    min_epochs: Annotated[int, typer.Option(help="No early stop before this epoch.")] = 20,
    workers: Annotated[
        int, typer.Option(help="Trials at a time on Ray Tune (1: in this process, no Ray).")
    ] = 1,
    ray_address: Annotated[
        str | None, typer.Option(help="Run the trials on this Ray cluster (implies Ray Tune).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the split, the sampler and training.")] = 2026,
    threads: Annotated[
        int | None, typer.Option(help="torch threads in this process (default: torch's choice).")
    ] = None,
    study_db: Annotated[
        Path | None,
        typer.Option(
            help="SQLite file that stores every finished trial; rerunning with the same file, data and "
            "options resumes the search (in-process only)."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Run folder: split, tuning results, the retrained best model.")
    ] = Path(".alignrec/runs/tuned"),
    track: Annotated[bool, typer.Option(help="Log the search and the final model to MLflow.")] = True,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "alignrec-tune",
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default sqlite under .alignrec).")
    ] = None,
) -> None:
    """Search hyperparameters on validation only, then retrain the best and report its test metrics."""
    import optuna
    import torch

    from alignrec.settings import tracking_uri as default_tracking_uri
    from recsys.experiment import default_config, log_defaults_note, resolve_config, run_experiment
    from recsys.splits import save_split
    from recsys.storage import write_text_atomic
    from recsys.tuning import describe, tune_on_ray
    from recsys.tuning import tune as tune_in_process

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial otherwise; the table follows
    if study_db is not None and (workers > 1 or ray_address):
        raise typer.BadParameter("--study-db resumes in-process searches; Ray Tune keeps its own records")
    if threads:
        torch.set_num_threads(threads)
    parts, _ = prepare_split(
        data,
        format,
        user_col,
        item_col,
        rating_col,
        time_col,
        sep,
        threshold,
        min_user,
        min_item,
        split,
        ratios,
        split_file,
        seed,
        out,
    )
    save_split(parts, out / "split.npz")
    base = default_config(  # trial 0 of the search: what `alignrec train` would run
        model.value,
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        min_epochs=min_epochs,
        seed=seed,
    )
    note = log_defaults_note(base, parts.train)
    if note:
        console.print(f"{model.value} trial 0 from the training log: {note}")
    base = resolve_config(base, parts.train)
    if workers > 1 or ray_address:
        result = tune_on_ray(
            parts, base, trials, seed, workers=max(workers, 1), address=ray_address, storage=out / "ray"
        )
    else:
        result = tune_in_process(parts, base, trials, seed, progress=sys.stderr.isatty(), study_db=study_db)
    summary = describe(result)
    write_text_atomic(out / "tuning.json", json.dumps(summary, indent=2, default=str))
    table = Table(title=f"{model.value}: {len(result.trials)} trials, validation NDCG@10 (best first)")
    names = sorted({k for t in result.trials for k in t} - {"number", "state", "value"})
    for column in ("trial", "state", "valid N@10", *names):
        table.add_column(column)
    ranked = sorted(result.trials, key=lambda t: -(t["value"] if t["value"] is not None else -1))
    for t in ranked[:15]:
        value = "-" if t["value"] is None else f"{t['value']:.4f}"
        table.add_row(str(t["number"]), t["state"], value, *[_short(t.get(n)) for n in names])
    console.print(table)
    console.print(f"best: {result.best_params} (valid NDCG@10 {result.best_valid:.4f}); retraining it")
    callbacks = []
    store = tracking_uri or default_tracking_uri()
    if track:
        from recsys.tracking import MlflowCallback

        tracker = MlflowCallback(experiment, run_name=f"tuned-{model.value}", tracking_uri=store)
        callbacks.append(tracker)
    final = run_experiment(parts, result.best_config, out / model.value, callbacks=callbacks)
    if track:
        from recsys.tracking import log_run

        trials_dir = out / "tuning"
        write_text_atomic(trials_dir / "tuning.json", json.dumps(summary, indent=2, default=str))
        log_run(
            experiment,
            {
                "model": model.value,
                "trials": trials,
                **{f"best.{k}": v for k, v in result.best_params.items()},
            },
            {"best_valid_ndcg@10": result.best_valid, **final.metrics},
            {"kind": "search"},
            trials_dir,
            tracking_uri=store,
            run_name=f"search-{model.value}",
        )
        console.print(f"[dim]MLflow store: {store}[/dim]")
    print_results([final])
    warn_below_popularity([final], parts)
    console.print(
        f"Saved the tuned {model.value} under {out / model.value}; trial table in {out / 'tuning.json'}"
    )


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
