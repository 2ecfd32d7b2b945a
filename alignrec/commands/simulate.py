"""``alignrec simulate abtest``: pit trained models of a run against each other on simulated users.

The experiment is a ``simulators.abtest.config.ABTestConfig``: its defaults, then the ``--config``
YAML file, then the flags given (a flag left out keeps the file's value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from simulators.abtest.config import help_of

app = typer.Typer(
    help="Simulated evaluation: long-horizon A/B tests of ranking policies.", no_args_is_help=True
)
console = Console()


def parse_policy_urls(pairs: list[str] | None) -> dict[str, str] | None:
    """``ARM=URL`` pairs -> {arm: url}; None when no pair was given (the config's value stays)."""
    if not pairs:
        return None
    out = {}
    for pair in pairs:
        arm, sep, url = pair.partition("=")
        if not sep or not arm or not url:
            raise typer.BadParameter(f"{pair!r}: expected ARM=URL", param_hint="--policy-url")
        out[arm] = url
    return out


@app.command()
def abtest(
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="YAML file of experiment fields (see docs/examples/abtest.yaml)."),
    ] = None,
    run: Annotated[Path | None, typer.Option(help=help_of("run"))] = None,
    arm: Annotated[
        list[str] | None, typer.Option("--arm", "-a", help=help_of("arms") + " Repeat the flag.")
    ] = None,
    policy_url: Annotated[
        list[str] | None,
        typer.Option(
            "--policy-url", help="ARM=URL: serve that arm over HTTP (repeatable). " + help_of("policy_urls")
        ),
    ] = None,
    rounds: Annotated[int | None, typer.Option(help=help_of("rounds"))] = None,
    k: Annotated[int | None, typer.Option("-k", help=help_of("k"))] = None,
    patience: Annotated[int | None, typer.Option(help=help_of("patience"))] = None,
    base_rate: Annotated[float | None, typer.Option(help=help_of("base_rate"))] = None,
    world_k: Annotated[int | None, typer.Option(help=help_of("world_k"))] = None,
    seed: Annotated[int | None, typer.Option(help=help_of("seed"))] = None,
    salt: Annotated[str | None, typer.Option(help=help_of("salt"))] = None,
    alpha: Annotated[float | None, typer.Option(help=help_of("alpha"))] = None,
    workers: Annotated[int | None, typer.Option(help=help_of("workers"))] = None,
    ray_address: Annotated[str | None, typer.Option(help=help_of("ray_address"))] = None,
    report_dir: Annotated[Path | None, typer.Option(help=help_of("report_dir"))] = None,
    track: Annotated[bool | None, typer.Option("--track/--no-track", help=help_of("track"))] = None,
    experiment: Annotated[str | None, typer.Option(help=help_of("experiment"))] = None,
    tracking_uri: Annotated[str | None, typer.Option(help=help_of("tracking_uri"))] = None,
) -> None:
    """Hash users into arms, simulate rounds of slates and clicks, test the arms (user-level CTR,
    fixed horizon and always-valid sequential) and write a Markdown/HTML/JSON report (and an MLflow
    run). Defaults: those of the config fields (docs/simulation.md)."""
    from simulators.abtest.config import load_config

    flags = {
        "run": run,
        "arms": arm,
        "policy_urls": parse_policy_urls(policy_url),
        "rounds": rounds,
        "k": k,
        "patience": patience,
        "base_rate": base_rate,
        "world_k": world_k,
        "seed": seed,
        "salt": salt,
        "alpha": alpha,
        "workers": workers,
        "ray_address": ray_address,
        "report_dir": report_dir,
        "track": track,
        "experiment": experiment,
        "tracking_uri": tracking_uri,
    }
    run_experiment(load_config(config_file, flags))


def run_experiment(config) -> None:
    """Run the test of one ``ABTestConfig``: load the run's models and split, simulate, report."""
    import numpy as np
    import torch

    from recsys.experiment import RECOMMENDER_DIR
    from recsys.recommender import Recommender
    from recsys.splits import load_split
    from simulators.abtest.analysis import experiment_report
    from simulators.abtest.environment import itemknn_world, run_abtest, run_abtest_on_ray
    from simulators.abtest.policies import HTTPPolicy, RecommenderPolicy
    from simulators.abtest.report import verdicts, write_report

    if not config.run.is_dir():
        raise FileNotFoundError(
            f"{config.run}: no run folder there (train one with `alignrec train --out {config.run}`)"
        )
    torch.set_num_threads(1)
    split = load_split(config.run / "split.npz")
    num_users, num_items = split.train.num_users, split.train.num_items
    user_ids = split.train.user_ids if split.train.user_ids is not None else np.arange(num_users)
    item_ids = split.train.item_ids if split.train.item_ids is not None else np.arange(num_items)
    local = [a for a in dict.fromkeys(config.arms) if a not in config.policy_urls]
    recommenders = {a: Recommender.load(config.run / a / RECOMMENDER_DIR) for a in local}
    arms = config.arms
    names = [f"{a}#{i}" if arms.count(a) > 1 else a for i, a in enumerate(arms)]
    policies = [
        HTTPPolicy(config.policy_urls[a], user_ids, item_ids, name=a)
        if a in config.policy_urls
        else RecommenderPolicy(recommenders[a])
        for a in arms
    ]
    clicks = itemknn_world(split, k=config.world_k, base_rate=config.base_rate)
    num_events = len(split.train) + len(split.valid) + len(split.test)
    users, ids = np.arange(num_users), [str(u) for u in user_ids]
    options = {
        "rounds": config.rounds,
        "k": config.k,
        "patience": config.patience,
        "seed": config.seed,
        "salt": config.salt,
    }
    served = f"; over HTTP: {', '.join(config.policy_urls)}" if config.policy_urls else ""
    console.print(
        f"{num_users} users, {len(arms)} arms ({', '.join(names)}), {config.rounds} rounds; world: ItemKNN "
        f"on all {num_events} events of the split, base click rate {config.base_rate}{served}"
    )
    try:
        if config.workers > 1 or config.ray_address:
            result = run_abtest_on_ray(
                policies,
                names,
                clicks,
                users,
                ids,
                num_items,
                workers=config.workers,
                address=config.ray_address,
                **options,
            )
        else:
            result = run_abtest(policies, names, clicks, users, ids, num_items, progress=True, **options)
    finally:
        for policy in policies:
            if isinstance(policy, HTTPPolicy):
                policy.close()
    numbers = experiment_report(result, config.settings(), alpha=config.alpha)
    print_arms(numbers, config.rounds)
    for sentence, (name, c) in zip(verdicts(numbers), numbers["comparisons"].items(), strict=True):
        per_user = c["clicks_per_user"]
        console.print(sentence)
        console.print(
            f"  naive daily peeking would stop at round {c['naive_peek_round'] or '-'}; clicks per user "
            f"{name} - {numbers['control']} {per_user['difference']:+.3f} ({per_user['relative']:+.1%}), "
            f"p = {per_user['p_value']:.3g}"
        )
    folder = config.report_dir or config.run / f"abtest-{config.salt}"
    write_report(numbers, folder)
    console.print(f"Report: {folder / 'report.md'}, {folder / 'report.html'}, {folder / 'report.json'}")
    if config.track:
        from alignrec.settings import tracking_uri as default_tracking_uri
        from simulators.abtest.tracking import log_experiment

        store = config.tracking_uri or default_tracking_uri()
        run_name = f"{' vs '.join(names)} ({config.salt})"
        run_id = log_experiment(
            numbers, folder, tracking_uri=store, experiment=config.experiment, run_name=run_name
        )
        console.print(
            f"[dim]MLflow run {run_id} in {store} (browse: mlflow ui --backend-store-uri {store})[/dim]"
        )


def print_arms(numbers: dict, rounds: int) -> None:
    table = Table(title=f"Arms after {rounds} rounds (control: {numbers['control']})")
    for column in ("arm", "users", "CTR", "± se", "clicks/user", "retention", "coverage", "exposure Gini"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, values in numbers["arms"].items():
        table.add_row(
            name,
            str(values["users"]),
            f"{values['ctr']:.4f}",
            f"{values['ctr_se']:.4f}",
            f"{values['clicks_per_user']:.2f}",
            f"{values['retention']:.3f}",
            f"{values['coverage']:.3f}",
            f"{values['exposure_gini']:.3f}",
        )
    console.print(table)
