"""The ``alignrec`` command: one explicit list of subcommands, one module each."""

from __future__ import annotations

import logging
import os

import typer
from rich.console import Console

from alignrec.commands import (
    align,
    data,
    demo,
    encode,
    feedback,
    index,
    match,
    recsys,
    rerank,
    serve,
    simulate,
    simulator,
    sizefit,
)

app = typer.Typer(
    name="alignrec",
    help="Train, evaluate, index, match, size and simulate recommenders from interaction logs.",
    no_args_is_help=True,
    add_completion=False,
)

app.command("train")(recsys.train)
app.command("evaluate")(recsys.evaluate)
app.command("recommend")(recsys.recommend)
app.command("tune")(recsys.tune)
app.command("rerank")(rerank.rerank)
app.add_typer(index.app, name="index")
app.add_typer(data.app, name="data")
app.add_typer(match.app, name="match")
app.add_typer(sizefit.app, name="sizefit")
app.add_typer(simulate.app, name="simulate")
app.add_typer(simulator.app, name="simulator")
app.command("serve")(serve.serve)
app.add_typer(feedback.app, name="feedback")
app.add_typer(align.app, name="align")
app.command("encode")(encode.encode)
app.command("demo")(demo.demo)


def main() -> None:
    """Entry point: bad input ends with one clear line (file, line, field) instead of a traceback."""
    # Models load from installed packages only: never ask a model hub (there may be no network).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # MLflow and alembic log every schema migration of a new SQLite file at INFO level.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        app()
    except (ValueError, FileNotFoundError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        Console(stderr=True).print(f"[bold red]error:[/bold red] {message}", highlight=False)
        raise SystemExit(2) from None
