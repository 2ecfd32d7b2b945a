"""``alignrec index build / search``: FAISS indexes over item vectors."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Build a FAISS index over item vectors (from a trained model or a .npy file) and search it.",
    no_args_is_help=True,
)
console = Console()


class Metric(StrEnum):
    ip = "ip"
    l2 = "l2"


Run = Annotated[
    Path | None,
    typer.Option(help="Run folder written by `alignrec train`; use with --model."),
]
ModelName = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model inside --run whose vectors to use (e.g. lightgcn)."),
]


def _load_recommender(run: Path, model: str | None):
    from recsys.experiment import RECOMMENDER_DIR
    from recsys.recommender import Recommender

    if model is None:
        raise typer.BadParameter("--run needs --model (which trained model's vectors to use)")
    return Recommender.load(run / model / RECOMMENDER_DIR, with_index=False)


@app.command()
def build(
    out: Annotated[Path, typer.Option(help="Folder for index.faiss and index.json.")] = Path(
        ".alignrec/index"
    ),
    run: Run = None,
    model: ModelName = None,
    vectors: Annotated[
        Path | None, typer.Option(help="Item vectors as a (N, d) .npy file, instead of --run.")
    ] = None,
    item_ids: Annotated[
        Path | None,
        typer.Option(help="Text file with one original item id per line (with --vectors)."),
    ] = None,
    metric: Annotated[
        Metric | None,
        typer.Option(help="ip (dot-product models) or l2 (CML); default: the model's, or ip."),
    ] = None,
    factory: Annotated[
        str,
        typer.Option(
            help="faiss index_factory string: Flat (exact), HNSW32, IVF{lists},PQ{m}np "
            "(m must divide the dimension; 'np' skips faiss's slow polysemous training)."
        ),
    ] = "HNSW32",
    nprobe: Annotated[int | None, typer.Option(help="IVF lists searched per query.")] = None,
    ef_search: Annotated[int | None, typer.Option(help="HNSW search breadth (efSearch).")] = None,
    train_size: Annotated[
        int | None, typer.Option(help="Train IVF/PQ on this many sampled vectors (default all).")
    ] = None,
    gpu: Annotated[
        bool | None,
        typer.Option("--gpu/--cpu", help="Force GPU or CPU (default: GPU when faiss sees one)."),
    ] = None,
    check: Annotated[
        int, typer.Option(help="Measure recall@10 against exact search on this many queries (0: skip).")
    ] = 1000,
) -> None:
    """Build an index over item vectors and report its recall@10 against exact search."""
    import numpy as np

    from recsys.index import ItemIndex, recall_against_exact

    if (run is None) == (vectors is None):
        raise typer.BadParameter("give either --run with --model, or --vectors")
    if run is not None:
        recommender = _load_recommender(run, model)
        items = recommender.model.item_vectors().detach().numpy()
        queries = recommender.model.user_vectors().detach().numpy()
        ids = recommender.item_ids
        chosen_metric = metric.value if metric else recommender.model.metric
    else:
        items = np.load(vectors)
        queries = items
        ids = item_ids.read_text().splitlines() if item_ids else None
        chosen_metric = metric.value if metric else "ip"
    start = time.perf_counter()
    index = ItemIndex.build(
        items, chosen_metric, factory, item_ids=ids, train_size=train_size, nprobe=nprobe,
        ef_search=ef_search, use_gpu=gpu,
    )
    seconds = time.perf_counter() - start
    index.save(out)
    table = Table(title=f"FAISS index written to {out}")
    for column in ("items", "dim", "metric", "factory", "build s", "recall@10 vs exact"):
        table.add_column(column)
    recall = "-"
    if check > 0:
        sample = np.random.default_rng(0).permutation(len(queries))[:check]
        recall = f"{recall_against_exact(index.index, items, queries[sample], 10, chosen_metric):.3f}"
        recall += f" ({len(sample)} {'users' if run else 'items as queries'})"
    table.add_row(str(len(items)), str(items.shape[1]), chosen_metric, factory, f"{seconds:.2f}", recall)
    console.print(table)


@app.command()
def search(
    index_dir: Annotated[Path, typer.Argument(help="Folder written by `alignrec index build`.")] = Path(
        ".alignrec/index"
    ),
    run: Run = None,
    model: ModelName = None,
    user: Annotated[
        list[str] | None,
        typer.Option(help="Original user id to recommend for (repeatable; with --run/--model)."),
    ] = None,
    queries: Annotated[
        Path | None, typer.Option(help="Query vectors as a (Q, d) .npy file, instead of --user.")
    ] = None,
    row: Annotated[
        list[int] | None, typer.Option(help="Rows of --queries to search (repeatable; default all).")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="Results per query.")] = 10,
    include_known: Annotated[
        bool, typer.Option(help="Keep items the user already interacted with (with --user).")
    ] = False,
) -> None:
    """Top-k items for users of a trained model, or for raw query vectors, from a saved index."""
    import numpy as np

    from recsys.index import ItemIndex

    index = ItemIndex.load(index_dir)
    if user:
        if run is None:
            raise typer.BadParameter("--user needs --run and --model (for the user vectors)")
        recommender = _load_recommender(run, model)
        if len(index.item_ids) != len(recommender.item_ids):
            raise typer.BadParameter(
                f"{index_dir} indexes {len(index.item_ids)} items, the model has {len(recommender.item_ids)}: "
                "build the index from this run's model"
            )
        recommender.index = index
        answers = recommender.recommend_many(list(user), k, exclude_known=not include_known)
        labels = [f"{u} ({a.source})" for u, a in zip(user, answers, strict=True)]
        names = [a.items for a in answers]
        scores = [a.scores for a in answers]
        score_name = "score" if index.metric == "ip" else "score (-squared L2)"
    elif queries is not None:
        vectors = np.load(queries)
        rows = np.array(row) if row else np.arange(len(vectors))
        vectors, labels = vectors[rows], [f"row {r}" for r in rows]
        scores, found = index.search(vectors, k)
        names = index.original_ids(found)
        score_name = "ip score" if index.metric == "ip" else "squared L2"
    else:
        raise typer.BadParameter("give --user (with --run/--model) or --queries")
    table = Table(title=f"Top {k} from {index_dir} ({index.factory}, {index.metric})")
    for column in ("query", "rank", "item", score_name):
        table.add_column(column)
    for label, row_names, row_scores in zip(labels, names, scores, strict=True):
        for rank, (name, score) in enumerate(zip(row_names, row_scores, strict=False), start=1):
            table.add_row(label, str(rank), str(name), f"{score:.4f}")
    console.print(table)
