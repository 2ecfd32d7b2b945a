"""``alignrec simulate abtest``: pit trained models of a run against each other on simulated users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Simulated evaluation: long-horizon A/B tests of ranking policies.", no_args_is_help=True
)
console = Console()


@app.command()
def abtest(
    run: Annotated[
        Path, typer.Option(help="Run folder written by `alignrec train` (its split and models).")
    ] = Path(".alignrec/runs/latest"),
    arm: Annotated[
        list[str],
        typer.Option(
            "--arm",
            "-a",
            help="Model of the run for one arm (repeat; the first is the control; "
            "the same model twice is an A/A test).",
        ),
    ] = ["pop", "bpr"],  # noqa: B006
    rounds: Annotated[int, typer.Option(help="Rounds; every active user gets one slate per round.")] = 50,
    k: Annotated[int, typer.Option("-k", help="Slate size.")] = 10,
    patience: Annotated[
        int, typer.Option(help="A user leaves after this many rounds in a row without a click.")
    ] = 5,
    base_rate: Annotated[
        float, typer.Option(help="Click probability of a median-scored item in the world model.")
    ] = 0.05,
    world_k: Annotated[
        int, typer.Option(help="Neighbours of the ItemKNN world model (fitted on all of the split).")
    ] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the click draws.")] = 2026,
    salt: Annotated[
        str, typer.Option(help="Salt of the user -> arm hash (a new salt is a new randomisation).")
    ] = "ab",
    workers: Annotated[int, typer.Option(help="Ray workers (1: one process).")] = 1,
    ray_address: Annotated[str | None, typer.Option(help="An existing Ray cluster.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to write report.json (default: RUN/abtest-<salt>.json).")
    ] = None,
) -> None:
    """Hash users into arms, simulate rounds of slates and clicks, and test the arms (user-level CTR,
    fixed horizon and always-valid sequential)."""
    import numpy as np
    import torch

    from recsys.experiment import RECOMMENDER_DIR
    from recsys.recommender import Recommender
    from recsys.splits import load_split
    from recsys.storage import write_text_atomic
    from simulators.abtest.analysis import report
    from simulators.abtest.environment import RecommenderPolicy, itemknn_world, run_abtest, run_abtest_on_ray

    if len(arm) < 2:
        raise typer.BadParameter("give at least two --arm models", param_hint="--arm")
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no run folder there (train one with `alignrec train --out {run}`)")
    torch.set_num_threads(1)
    recommenders = {name: Recommender.load(run / name / RECOMMENDER_DIR) for name in dict.fromkeys(arm)}
    split = load_split(run / "split.npz")
    clicks = itemknn_world(split, k=world_k, base_rate=base_rate)
    num_items, num_events = split.train.num_items, len(split.train) + len(split.valid) + len(split.test)
    first = recommenders[arm[0]]
    users, ids = np.arange(len(first.user_ids)), [str(u) for u in first.user_ids]
    names = [f"{a}#{i}" if arm.count(a) > 1 else a for i, a in enumerate(arm)]
    policies = [RecommenderPolicy(recommenders[a]) for a in arm]
    options = {"rounds": rounds, "k": k, "patience": patience, "seed": seed, "salt": salt}
    console.print(
        f"{len(users)} users, {len(arm)} arms ({', '.join(names)}), {rounds} rounds; world: ItemKNN "
        f"on all {num_events} events of the split, base click rate {base_rate}"
    )
    if workers > 1 or ray_address:
        result = run_abtest_on_ray(
            policies,
            names,
            clicks,
            users,
            ids,
            num_items,
            workers=max(workers, 1),
            address=ray_address,
            **options,
        )
    else:
        result = run_abtest(policies, names, clicks, users, ids, num_items, progress=True, **options)
    numbers = report(result)
    table = Table(title=f"Arms after {rounds} rounds (control: {names[0]})")
    for column in ("arm", "users", "CTR", "± se", "retention", "coverage", "exposure Gini"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, values in numbers["arms"].items():
        table.add_row(
            name,
            str(values["users"]),
            f"{values['ctr']:.4f}",
            f"{values['ctr_se']:.4f}",
            f"{values['retention']:.3f}",
            f"{values['coverage']:.3f}",
            f"{values['exposure_gini']:.3f}",
        )
    console.print(table)
    for name, c in numbers["comparisons"].items():
        verdict = "significant" if c["significant"] else "not significant"
        console.print(
            f"{name} - {names[0]}: CTR {c['difference']:+.4f} ({c['relative']:+.1%}), 95% CI [{c['ci_low']:+.4f}, "
            f"{c['ci_high']:+.4f}], p = {c['p_value']:.3g} ({verdict}); always-valid test stops at round "
            f"{c['sequential_stop_round'] or '-'}; naive daily peeking would stop at round {c['naive_peek_round'] or '-'}"
        )
        per_user = c["clicks_per_user"]
        console.print(
            f"  clicks per user {per_user['difference']:+.3f} ({per_user['relative']:+.1%}), p = {per_user['p_value']:.3g}"
        )
    path = out or run / f"abtest-{salt}.json"
    write_text_atomic(path, json.dumps(numbers, indent=1, default=float))
    console.print(f"Report: {path}")
