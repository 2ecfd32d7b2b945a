"""The ``alignrec`` command: one explicit list of subcommands, one module each."""

from __future__ import annotations

import typer

from alignrec.commands import demo, recsys

app = typer.Typer(
    name="alignrec",
    help="Train, evaluate, index, match, size and simulate recommenders from interaction logs.",
    no_args_is_help=True,
    add_completion=False,
)

app.command("train")(recsys.train)
app.command("evaluate")(recsys.evaluate)
app.command("recommend")(recsys.recommend)
app.command("demo")(demo.demo)


def main() -> None:
    app()
