"""``alignrec demo``: the README's main job, every capability end to end on embedded data."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# One entry per capability, in the order a newcomer should see them: the module in
# ``alignrec.demos`` whose ``run(out, console)`` prints its own tables and finishes in a few minutes
# on 2 cores. Modules are imported when their step runs, so `alignrec --help` stays light.
STEPS = {
    "recsys": "alignrec.demos.recsys_demo",
    "matching": "alignrec.demos.matching_demo",
    "multimodal": "alignrec.demos.multimodal_demo",
    "sizefit": "alignrec.demos.sizefit_demo",
    "usersim": "alignrec.demos.usersim_demo",
    "abtest": "alignrec.demos.abtest_demo",
    "creators": "alignrec.demos.creators_demo",
    "serving": "alignrec.demos.serving_demo",
    "loop": "alignrec.demos.loop_demo",  # needs the serving step's feedback store
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
    for name, module in STEPS.items():
        if only and name not in only:
            continue
        console.rule(f"[bold]{name}")
        start = time.perf_counter()
        importlib.import_module(module).run(out / name, console)
        console.print(f"[dim]{name} finished in {time.perf_counter() - start:.1f} s[/dim]")
