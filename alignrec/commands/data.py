"""``alignrec data list / download``: public interaction data sets, checksum-verified."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignrec.settings import home_dir
from recsys.download import DATASETS
from recsys.download import download as download_dataset

app = typer.Typer(help="List and download public interaction data sets.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_datasets() -> None:
    """Show the data sets `alignrec data download` knows, with their URL and checksum status."""
    table = Table(title="Public data sets")
    for column in ("name", "description and URL", "sha256"):
        table.add_column(column, overflow="fold")
    for dataset in DATASETS.values():
        checksum = dataset.sha256[:12] + "…" if dataset.sha256 else "[yellow]none published[/yellow]"
        table.add_row(dataset.name, f"{dataset.description}\n[dim]{dataset.url}[/dim]", checksum)
    console.print(table)


@app.command()
def download(
    name: Annotated[str, typer.Argument(help=f"Data set to fetch: {', '.join(DATASETS)}.")],
    to: Annotated[
        Path | None,
        typer.Option(help="Target folder (default: $ALIGNREC_DATA_DIR, else .alignrec/data)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the server before giving up (offline).")
    ] = 10.0,
) -> None:
    """Download a data set, verify its published SHA-256 and unpack it."""
    target = to or Path(os.environ.get("ALIGNREC_DATA_DIR") or home_dir() / "data")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = download_dataset(name, target, timeout=timeout)
        except ConnectionError as error:
            console.print(f"[bold red]error:[/bold red] {error}", highlight=False)
            raise typer.Exit(1) from None
    for warning in caught:
        console.print(f"[yellow]warning:[/yellow] {warning.message}", highlight=False)
    status = "verified" if result.verified else "[yellow]UNVERIFIED[/yellow]"
    console.print(f"{result.archive}: SHA-256 {result.sha256} ({status})", highlight=False)
    console.print(
        f"Interactions: {result.ratings}\n"
        f"Train on it:  alignrec train --data {result.ratings} --format {DATASETS[name].reader}",
        highlight=False,
    )
