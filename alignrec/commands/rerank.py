"""``alignrec rerank``: fit the two-stage ranker of a run (its retrievers' merged candidates,
re-ranked by LightGBM LambdaRank on the validation items), test it, and save it where
``alignrec serve --ranker-dir`` reads it.

The models and LightGBM are imported inside the command, so that ``alignrec --help`` stays light.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def parse_retrievers(given: list[str]) -> dict[str, int]:
    """``["lightgcn=60", "bpr=40"]`` -> {"lightgcn": 60, "bpr": 40}."""
    depths: dict[str, int] = {}
    for text in given:
        name, sep, depth = text.partition("=")
        if not sep or not name or not depth.isdigit() or int(depth) < 1:
            raise typer.BadParameter(
                f"{text!r}: expected NAME=DEPTH, e.g. lightgcn=60", param_hint="--retriever"
            )
        if name in depths:
            raise typer.BadParameter(f"{name!r} given twice", param_hint="--retriever")
        depths[name] = int(depth)
    return depths


PREFERRED = ("lightgcn", "bpr", "cml", "itemknn")  # the default feature order (best retriever first)


def default_retrievers(run: Path, depth: int = 50) -> dict[str, int]:
    """Every model trained in ``run`` except popularity (which the features already carry)."""
    from recsys.experiment import RECOMMENDER_DIR

    trained = sorted(p.parent.name for p in run.glob(f"*/{RECOMMENDER_DIR}"))
    if not trained:
        raise FileNotFoundError(f"{run}: no trained models in this run folder")
    names = [n for n in PREFERRED if n in trained] + [n for n in trained if n not in PREFERRED and n != "pop"]
    return {name: depth for name in names or trained}


def read_item_content(path: Path, item_ids, item_col: str, genres_col: str | None, year_col: str | None):
    """(I, G) multi-hot genres and (I,) years for the run's items from a CSV/TSV catalog ("|"-separated
    genres); items the file does not list get zeros. Returns (genres or None, years or None)."""
    import numpy as np
    import pandas as pd

    from recsys.readers import detect_sep

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such catalog file")
    sep = detect_sep(path) or ","
    frame = pd.read_csv(
        path, sep=sep, engine="python" if len(sep) > 1 else "c", dtype=str, keep_default_na=False
    )
    for column in (item_col, genres_col, year_col):
        if column is not None and column not in frame.columns:
            raise ValueError(f"{path}: no column {column!r}; found {list(frame.columns)}")
    rows = {item: i for i, item in enumerate(frame[item_col])}
    index = [rows.get(str(item)) for item in item_ids]
    genres = years = None
    if genres_col is not None:
        names = sorted({g for text in frame[genres_col] for g in text.split("|") if g})
        column = {g: j for j, g in enumerate(names)}
        genres = np.zeros((len(item_ids), max(len(names), 1)), dtype=np.float32)
        for i, row in enumerate(index):
            if row is not None:
                for g in frame[genres_col].iat[row].split("|"):
                    if g:
                        genres[i, column[g]] = 1.0
    if year_col is not None:
        values = pd.to_numeric(frame[year_col], errors="coerce").fillna(0).to_numpy(np.float32)
        years = np.array([values[row] if row is not None else 0.0 for row in index], dtype=np.float32)
    return genres, years


def rerank(
    run: Annotated[
        Path, typer.Option(help="Run folder written by `alignrec train` (split and models).")
    ] = Path(".alignrec/runs/latest"),
    retriever: Annotated[
        list[str] | None,
        typer.Option(
            "--retriever",
            "-r",
            help="NAME=DEPTH: a model of the run and how many candidates it proposes per user (repeat; "
            "in feature order; the first one's order is the baseline). Default: every trained model "
            "but pop, 50 each.",
        ),
    ] = None,
    items: Annotated[
        Path | None,
        typer.Option(help="Optional catalog (CSV/TSV) with genres and years for the content features."),
    ] = None,
    item_col: Annotated[str, typer.Option(help="Item id column of --items.")] = "item_id",
    genres_col: Annotated[str | None, typer.Option(help='Genres column of --items ("|"-separated).')] = None,
    year_col: Annotated[str | None, typer.Option(help="Release-year column of --items.")] = None,
    out: Annotated[Path | None, typer.Option(help="Where to save the ranker (default RUN/ranker).")] = None,
    threads: Annotated[int, typer.Option(help="LightGBM and torch threads.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the fit/tune split of the validation users.")] = 2026,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Fit a two-stage ranker on the run's validation items, compare it on the test split with each
    retriever alone (full ranking, train+valid masked), and save it for `alignrec serve --ranker-dir`."""
    import numpy as np
    import torch

    from recsys.evaluate import evaluate_scores
    from recsys.experiment import RECOMMENDER_DIR
    from recsys.recommender import Recommender
    from recsys.rerank_training import (
        candidate_batches,
        evaluate_lists,
        ranker_score,
        top_lists,
        train_two_stage,
    )
    from recsys.splits import load_split

    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no run folder there (train one with `alignrec train --out {run}`)")
    depths = parse_retrievers(retriever) if retriever else default_retrievers(run)
    missing = [name for name in depths if not (run / name / RECOMMENDER_DIR).is_dir()]
    if missing:
        found = sorted(p.parent.name for p in run.glob(f"*/{RECOMMENDER_DIR}"))
        raise FileNotFoundError(f"{run}: no trained model {missing} (the run has {found}); train it first")
    torch.set_num_threads(threads)
    split = load_split(run / "split.npz")
    retrievers = {name: Recommender.load(run / name / RECOMMENDER_DIR) for name in depths}
    genres = years = None
    if items is not None:
        lead = next(iter(retrievers.values()))
        genres, years = read_item_content(items, lead.item_ids, item_col, genres_col, year_col)
    fitted = train_two_stage(
        retrievers, depths, split, genres, years, threads=threads, seed=seed, progress=not quiet
    )
    ranker = fitted.ranker
    for trial in fitted.trials:
        console.print(
            f"LightGBM {json.dumps(trial['config'])}: {trial['rounds']} rounds, tune NDCG@10 "
            f"{trial['tune_ndcg@10']:.4f} ({trial['seconds']:.1f} s)"
        )
    first = next(iter(depths))
    console.print(
        f"tuning users: NDCG@10 {fitted.tune_ndcg:.4f} re-ranked vs {fitted.tune_ndcg_first_retriever:.4f} "
        f"in {first}'s order (same candidates)"
    )

    known = (split.train.to_csr() + split.valid.to_csr()).tocsr()
    test = split.test.to_csr()
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    parts = candidate_batches(
        retrievers, depths, ranker.tables, users, test, exclude="known", progress=not quiet
    )
    table = Table(title=f"Test: {len(users)} users, full ranking, train+valid masked")
    for column in ("model", "NDCG@10", "Recall@10", "Recall@20"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, recommender in retrievers.items():
        with torch.no_grad():
            result = evaluate_scores(
                lambda u, r=recommender: r.model.scores(torch.from_numpy(u)), split.test, known
            )
        m = result.metrics
        table.add_row(name, f"{m['ndcg@10']:.4f}", f"{m['recall@10']:.4f}", f"{m['recall@20']:.4f}")
    lists = top_lists(parts, ranker_score(ranker), 20, split.train.num_users)
    m = evaluate_lists(lists, split, known).metrics
    pool = " + ".join(f"{n} {d}" for n, d in depths.items())
    table.add_row(
        f"two-stage ({pool})", f"{m['ndcg@10']:.4f}", f"{m['recall@10']:.4f}", f"{m['recall@20']:.4f}"
    )
    console.print(table)
    ranker.info["test_ndcg@10"] = round(m["ndcg@10"], 4)
    path = ranker.save(out or run / "ranker")
    console.print(
        f"Ranker: {path}  (serve it: alignrec serve --model-dir {run / first / RECOMMENDER_DIR} "
        f"--ranker-dir {path})"
    )
