"""``alignrec simulator evaluate / distil / train``: user simulators measured on what real users chose
next (protocol 1: negatives ∝ popularity; protocol 2: hard negatives), a distilled fast simulator
fitted to the LM simulator's choices, and the LM's training (``alignrec align train``).
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignrec.commands import align
from alignrec.commands.feedback_options import FeedbackCsvOption, FeedbackSinceOption, read_served_events

app = typer.Typer(
    help="User simulators: evaluate them on real next choices, distil a fast one, train the LM.",
    no_args_is_help=True,
)
console = Console()


class Simulator(StrEnum):
    random = "random"
    popularity = "popularity"
    itemknn = "itemknn"
    bpr = "bpr"
    lm = "lm"
    distilled = "distilled"


DataOption = Annotated[Path, typer.Option(help="Interaction log (any format the recsys readers load).")]
FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        help="Reader: movielens-100k, movielens-1m, movielens-latest, amazon, mmrec, or auto.",
    ),
]
ItemsOption = Annotated[
    Path | None, typer.Option(help="ML-100K u.item: titles, years, genres (u.genre beside it).")
]
UsersOption = Annotated[Path | None, typer.Option(help="ML-100K u.user: personas.")]
NumUsersOption = Annotated[int, typer.Option(help="Held-out users (each one's last event is the target).")]
SeedOption = Annotated[int, typer.Option(help="Seed of the held-out users and the lists.")]
EpochsOption = Annotated[int, typer.Option(help="BPR epochs at most (early stop on validation).")]
BaseOption = Annotated[str, typer.Option(help="LM: 'smollm2' or a local model folder.")]
AdapterOption = Annotated[
    Path | None, typer.Option(help="LM: a LoRA folder from `alignrec align train` (<out>/final).")
]
ListOption = Annotated[
    bool,
    typer.Option(
        "--list-in-prompt/--no-list-in-prompt",
        help="LM: list the options in the prompt (the alignment prompt) or score each option alone.",
    ),
]
HistoryOption = Annotated[int, typer.Option(help="LM: history lines in the prompt.")]
TitleOption = Annotated[int | None, typer.Option(help="LM: cut history titles to this many characters.")]
ThreadsOption = Annotated[int, typer.Option(help="torch threads.")]
PriorWeightOption = Annotated[
    float,
    typer.Option(
        "--prior-weight",
        min=0.0,
        help="LM: subtract this times each title's score under an empty history (the item prior, a PMI "
        "correction of generic titles) from its score; 0: none. 0.8 was fitted on ML-100K protocol 1 "
        "(accuracy 0.253 -> 0.317; on ML-1M the fitted weight is 0: fit it per log, see "
        "docs/simulation.md). Needs --no-list-in-prompt.",
    ),
]


def _data(data: Path, format: str, items: Path | None, users: Path | None, num_users: int, seed: int):  # noqa: A002
    from recsys.readers import READERS, read_interactions
    from simulators.users.experiment import load_simulator_data

    if format != "auto" and format not in READERS:
        raise ValueError(f"--format {format!r}: use auto or one of {sorted(READERS)}")
    log = read_interactions(data) if format == "auto" else READERS[format](data)
    return load_simulator_data(log, items, users, num_users=num_users, seed=seed)


def _served(
    data: Path,
    format: str,  # noqa: A002
    items: Path | None,
    users: Path | None,
    feedback_db: str | None,
    feedback_csv: Path | None,
    n: int | None,
    protocol: int,
    since: str | None = None,
):
    """The served slates as exposures over the base log ``data`` (nobody held out: all of it is
    history and trains the baselines), their report, and the loaded base log."""
    from simulators.users.feedback_exposures import served_exposures

    if protocol != 1:
        raise ValueError("--protocol: the served slates are the lists; drop --protocol with --feedback-*")
    events = read_served_events(feedback_db, feedback_csv, since)
    loaded = _data(data, format, items, users, 0, 0)
    exposures, report = served_exposures(events, loaded.log, n=n)
    return exposures, report, loaded


@app.command()
def evaluate(
    data: DataOption,
    simulator: Annotated[
        list[Simulator], typer.Option("--simulator", "-s", help="Simulator(s) to measure; repeatable.")
    ],
    format: FormatOption = "auto",  # noqa: A002
    items: ItemsOption = None,
    users: UsersOption = None,
    protocol: Annotated[int, typer.Option(help="1: negatives ∝ popularity; 2: hard negatives.")] = 1,
    n: Annotated[
        int | None,
        typer.Option(
            "-n",
            help="Options per list (default 5; with --feedback-*: the served slates' most common length).",
        ),
    ] = None,
    match: Annotated[
        bool, typer.Option(help="Protocol 2: match the random list to the target's popularity and year.")
    ] = True,
    num_users: NumUsersOption = 300,
    seed: SeedOption = 2026,
    epochs: EpochsOption = 100,
    base_model: BaseOption = "smollm2",
    adapter: AdapterOption = None,
    list_in_prompt: ListOption = False,
    prompt_history: HistoryOption = 5,
    title_chars: TitleOption = 30,
    int8: Annotated[
        bool,
        typer.Option(
            help="LM: int8 dynamic quantisation, MLP down projections kept float (~2.4x faster for "
            "new users, same accuracy on ML-100K)."
        ),
    ] = False,
    device: Annotated[
        str | None, typer.Option(help="LM: torch device, e.g. cuda (default: the CPU).")
    ] = None,
    lm_lists: Annotated[int | None, typer.Option(help="LM: decide only the first this many lists.")] = None,
    prior_weight: PriorWeightOption = 0.0,
    distilled: Annotated[
        Path | None, typer.Option(help="Folder from `alignrec simulator distil` (for -s distilled).")
    ] = None,
    threads: ThreadsOption = 1,
    out: Annotated[Path | None, typer.Option(help="Write the metrics as JSON here.")] = None,
    feedback_db: Annotated[
        str | None,
        typer.Option(
            help="Evaluate on the slates a served model showed: the feedback store at this URL "
            "(sqlite:///... or postgresql+psycopg://...); --data is the base log (history, baselines)."
        ),
    ] = None,
    feedback_csv: FeedbackCsvOption = None,
    feedback_since: FeedbackSinceOption = None,
) -> None:
    """Accuracy of choosing the item each held-out user really took next, sampled accuracy, position
    bias and decisions/s, for each simulator on the same lists. With --feedback-db or --feedback-csv
    the lists are the served slates (each slate's shown items, the clicked one the target) and the
    baselines train on the whole --data log."""
    import torch

    from alignrec.settings import home_dir
    from recsys.storage import write_text_atomic
    from simulators.users import PopularityUser, RandomUser, RecommenderUser, evaluate_simulator
    from simulators.users.experiment import (
        exposures_of,
        fit_recommenders,
        lm_simulator,
        load_distilled_folder,
        split_signature,
    )

    torch.set_num_threads(threads)
    if Simulator.lm in simulator:
        from simulators.users.lm import check_prior_weight

        check_prior_weight(prior_weight, list_in_prompt)  # before any data is read or model fitted
    if Simulator.distilled in simulator and distilled is None:
        raise ValueError("-s distilled needs --distilled FOLDER (from `alignrec simulator distil`)")
    served = feedback_db is not None or feedback_csv is not None
    if feedback_since is not None and not served:
        raise ValueError("--feedback-since filters served slates: give --feedback-db or --feedback-csv")
    if served:
        exposures, report, loaded = _served(
            data, format, items, users, feedback_db, feedback_csv, n, protocol, feedback_since
        )
        console.print(report.summary())
        recommenders = fit_recommenders(loaded.held.train, epochs=epochs, seed=seed)
        n, title = report.n, f"served slates, n = {report.n}, {report.kept} lists"
    else:
        n = 5 if n is None else n
        loaded = _data(data, format, items, users, num_users, seed)
        recommenders = fit_recommenders(loaded.held.train, epochs=epochs, seed=seed)
        exposures = exposures_of(
            loaded, protocol, n, seed=seed, collaborative=recommenders["bpr"], match=match
        )
        title = f"protocol {protocol}, n = {n}, {num_users} held-out users"
    results = {}
    for name in simulator:
        lists = exposures
        if name == Simulator.random:
            sim = RandomUser()
        elif name == Simulator.popularity:
            sim = PopularityUser(recommenders["itemknn"])
        elif name in (Simulator.itemknn, Simulator.bpr):
            sim = RecommenderUser(recommenders[name.value], name=name.value)
        elif name == Simulator.lm:
            sim = lm_simulator(
                loaded,
                base_model,
                home_dir() / "models",
                adapter,
                list_in_prompt=list_in_prompt,
                history=prompt_history,
                title_chars=title_chars,
                int8=int8,
                device=device,
                prior_weight=prior_weight,
            )
            lists = exposures[:lm_lists] if lm_lists else exposures
        else:
            sim = load_distilled_folder(distilled, None if served else split_signature(loaded))
        results[name.value] = evaluate_simulator(sim, lists)
    table = Table(title=title)
    for column in ("simulator", "lists", "accuracy", "sampled", "max position gap", "decisions/s"):
        table.add_column(column, justify="left" if column == "simulator" else "right")
    for name, m in results.items():
        table.add_row(
            name,
            str(m["lists"]),
            f"{m['accuracy']:.3f}",
            f"{m['sampled_accuracy']:.3f}",
            f"{m['max_position_gap']:.3f}",
            f"{m['decisions_per_s']:.1f}",
        )
    console.print(table)
    if out is not None:
        record = {"protocol": "served" if served else protocol, "n": n, "results": results}
        if served:
            record["slates"] = dataclasses.asdict(report)
        write_text_atomic(out, json.dumps(record, indent=1))
        console.print(f"metrics written to {out}")


@app.command()
def distil(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Folder for the distilled simulator.")],
    format: FormatOption = "auto",  # noqa: A002
    items: ItemsOption = None,
    users: UsersOption = None,
    num_users: NumUsersOption = 300,
    seed: SeedOption = 2026,
    train_users: Annotated[int, typer.Option(help="Users (not held out) whose lists the LM labels.")] = 150,
    lists_per_user: Annotated[int, typer.Option(help="Lists per training user (n = 5).")] = 4,
    epochs: EpochsOption = 100,
    base_model: BaseOption = "smollm2",
    adapter: AdapterOption = None,
    list_in_prompt: ListOption = False,
    prompt_history: HistoryOption = 5,
    title_chars: TitleOption = 30,
    prior_weight: PriorWeightOption = 0.0,
    rounds: Annotated[int, typer.Option(help="LightGBM boosting rounds.")] = 200,
    text: Annotated[
        bool,
        typer.Option(
            help="The history x title feature: MiniLM cosine between an option's title and the last "
            "--prompt-history history titles (--no-text: without it, a weaker simulator)."
        ),
    ] = True,
    threads: ThreadsOption = 1,
) -> None:
    """Label training users' lists with the LM simulator and fit LightGBM on cheap per-option features
    (BPR and ItemKNN scores, popularity, the LM's title prior and token count, genre affinity, the
    MiniLM history x title cosine; no display position) to its choices, with BPR and ItemKNN fitted
    without the labelled lists' targets (the saved simulator then reads ones fitted on the whole
    training log); evaluate it with `alignrec
    simulator evaluate -s distilled --distilled OUT` on the same --data, --num-users and --seed. The
    defaults are `python -m benchmarks.usersim`'s distilled simulator (150 users x 4 lists, 200
    rounds)."""
    import time

    import torch

    from alignrec.settings import home_dir
    from simulators.users.distilled import distil as fit_distilled
    from simulators.users.evaluate import agreement
    from simulators.users.experiment import (
        fit_recommenders,
        lm_simulator,
        option_features,
        save_distilled_folder,
        split_signature,
        title_vectors,
        training_lists,
        training_users,
    )
    from simulators.users.lm import check_prior_weight
    from simulators.users.simulators import softmax

    torch.set_num_threads(threads)
    check_prior_weight(prior_weight, list_in_prompt)  # before any data is read or model fitted
    loaded = _data(data, format, items, users, num_users, seed)
    vectors = None
    if text:
        try:
            vectors = title_vectors(loaded)
        except ImportError as err:
            raise ImportError(f"{err}; or distil with --no-text (no history x title feature)") from err
    recommenders = fit_recommenders(loaded.held.train, epochs=epochs, seed=seed)
    teacher = lm_simulator(
        loaded,
        base_model,
        home_dir() / "models",
        adapter,
        list_in_prompt=list_in_prompt,
        history=prompt_history,
        title_chars=title_chars,
        prior_weight=prior_weight,
    )
    lists = training_lists(loaded, train_users, lists_per_user)
    # the recommenders' scores on the labelled lists come from ones blind to those lists' targets (the
    # training log holds them); the saved simulator reads the full training log's recommenders
    blind = fit_recommenders(training_users(loaded, train_users).train, epochs=epochs, seed=seed)
    start = time.perf_counter()
    scores = teacher.scores(lists)
    seconds = time.perf_counter() - start
    fitted = fit_distilled(
        option_features(loaded, blind, teacher, item_vectors=vectors, recent=prompt_history),
        lists,
        scores,
        rounds=rounds,
        name=f"distilled ({teacher.name})",
    )
    features = option_features(loaded, recommenders, teacher, item_vectors=vectors, recent=prompt_history)
    save_distilled_folder(out, fitted.with_features(features), recommenders, split_signature(loaded))
    fit = agreement(fitted.choice_probabilities(lists), softmax(scores, 1.0))
    console.print(
        f"{len(lists)} lists labelled by {teacher.name} in {seconds:.0f} s; "
        f"training agreement {fit:.3f}{'' if text else ' (no history x title feature)'}; saved to {out}"
    )


app.command(
    "train",
    help="Train the LM simulator: the same command as `alignrec align train` (it delegates to it); "
    "evaluate the adapter it writes with `alignrec simulator evaluate -s lm --adapter OUT/final`.",
)(align.train)
