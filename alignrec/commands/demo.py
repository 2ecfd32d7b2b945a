"""``alignrec demo``: the README's main job, every capability end to end on embedded data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from alignrec.demos import matching_demo, multimodal_demo, recsys_demo, sizefit_demo

# One entry per capability, in the order a newcomer should see them. Each step takes the
# output folder and a console, prints its own table, and finishes in a few minutes on 2 cores.
STEPS = {
    "recsys": recsys_demo.run,
    "matching": matching_demo.run,
    "multimodal": multimodal_demo.run,
    "sizefit": sizefit_demo.run,
}


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's runs, indexes and MLflow database.")] = Path(
        ".alignrec/demo"
    ),
    only: Annotated[
        list[str] | None, typer.Option(help=f"Run only these steps (any of: {', '.join(STEPS)}).")
    ] = None,
) -> None:
    """Run every capability end to end on generated or bundled data and print the results."""
    console = Console()
    unknown = set(only or []) - set(STEPS)
    if unknown:
        raise typer.BadParameter(f"unknown step(s) {sorted(unknown)}; choose from {list(STEPS)}")
    out.mkdir(parents=True, exist_ok=True)
    for name, step in STEPS.items():
        if only and name not in only:
            continue
        console.rule(f"[bold]{name}")
        start = time.perf_counter()
        step(out / name, console)
        console.print(f"[dim]{name} finished in {time.perf_counter() - start:.1f} s[/dim]")
