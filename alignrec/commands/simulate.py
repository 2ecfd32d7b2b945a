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

from simulators.abtest.config import CreatorsConfig, help_of

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
    serve_arms: Annotated[
        bool | None, typer.Option("--serve-arms/--in-process", help=help_of("serve_arms"))
    ] = None,
    send_feedback: Annotated[
        bool | None, typer.Option("--send-feedback/--no-send-feedback", help=help_of("send_feedback"))
    ] = None,
    rounds: Annotated[int | None, typer.Option(help=help_of("rounds"))] = None,
    k: Annotated[int | None, typer.Option("-k", help=help_of("k"))] = None,
    patience: Annotated[int | None, typer.Option(help=help_of("patience"))] = None,
    base_rate: Annotated[float | None, typer.Option(help=help_of("base_rate"))] = None,
    world_k: Annotated[int | None, typer.Option(help=help_of("world_k"))] = None,
    user_simulator: Annotated[Path | None, typer.Option(help=help_of("user_simulator"))] = None,
    seed: Annotated[int | None, typer.Option(help=help_of("seed"))] = None,
    salt: Annotated[str | None, typer.Option(help=help_of("salt"))] = None,
    alpha: Annotated[float | None, typer.Option(help=help_of("alpha"))] = None,
    retrain_every: Annotated[int | None, typer.Option(help=help_of("retrain_every"))] = None,
    retrain_epochs: Annotated[int | None, typer.Option(help=help_of("retrain_epochs"))] = None,
    diversity_dims: Annotated[int | None, typer.Option(help=help_of("diversity_dims"))] = None,
    ratings: Annotated[bool | None, typer.Option("--ratings/--no-ratings", help=help_of("ratings"))] = None,
    state: Annotated[Path | None, typer.Option(help=help_of("state"))] = None,
    resume: Annotated[bool | None, typer.Option("--resume/--no-resume", help=help_of("resume"))] = None,
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
        "serve_arms": serve_arms,
        "send_feedback": send_feedback,
        "rounds": rounds,
        "k": k,
        "patience": patience,
        "base_rate": base_rate,
        "world_k": world_k,
        "user_simulator": user_simulator,
        "seed": seed,
        "salt": salt,
        "alpha": alpha,
        "retrain_every": retrain_every,
        "retrain_epochs": retrain_epochs,
        "diversity_dims": diversity_dims,
        "ratings": ratings,
        "state": state,
        "resume": resume,
        "workers": workers,
        "ray_address": ray_address,
        "report_dir": report_dir,
        "track": track,
        "experiment": experiment,
        "tracking_uri": tracking_uri,
    }
    run_experiment(load_config(config_file, flags))


def run_experiment(config) -> None:
    """Run the test of one ``ABTestConfig``: serve the run's arms over HTTP from this process
    (``ABTestConfig.serves_locally``), or call them in-process, then :func:`run_arms`."""
    import dataclasses
    import importlib.util
    import tempfile

    from recsys.experiment import RECOMMENDER_DIR

    if not config.run.is_dir():
        raise FileNotFoundError(
            f"{config.run}: no run folder there (train one with `alignrec train --out {config.run}`)"
        )
    local = [a for a in dict.fromkeys(config.arms) if a not in config.policy_urls]
    if not local or not config.serves_locally():
        return run_arms(config)
    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        if config.serve_arms:
            raise ValueError(
                f"serve_arms: needs the serve extra ({', '.join(missing)} missing): pip install alignrec[serve]"
            )
        console.print(f"[yellow]{', '.join(missing)} not installed: the arms run in this process[/yellow]")
        return run_arms(config)
    from simulators.abtest.local_servers import serve_models

    model_dirs = {a: config.run / a / RECOMMENDER_DIR for a in local}
    with (
        tempfile.TemporaryDirectory(prefix="alignrec-arms-") as folder,
        serve_models(model_dirs, Path(folder)) as urls,
    ):
        console.print(
            "arms served over HTTP from this process: "
            + ", ".join(f"{a} at {url}" for a, url in urls.items())
            + " (--in-process to call them directly)"
        )
        run_arms(dataclasses.replace(config, policy_urls={**urls, **config.policy_urls}), started=set(urls))


def run_arms(config, started: set[str] = frozenset()) -> None:
    """Load the run's split and in-process models, simulate, report; ``started``: arms whose URL
    is a server this process started (the report records them as served from this process)."""
    import numpy as np
    import torch

    from recsys.experiment import RECOMMENDER_DIR
    from recsys.recommender import Recommender
    from recsys.splits import load_split
    from simulators.abtest.analysis import experiment_report
    from simulators.abtest.environment import itemknn_world, run_abtest, run_abtest_on_ray
    from simulators.abtest.policies import HTTPFeedback, HTTPPolicy, RecommenderPolicy

    state_path = config.state_path()  # None on Ray
    if state_path is not None and state_path.exists():
        if not config.resume:
            raise ValueError(
                f"{state_path}: a saved state of this test exists; pass --resume to continue it (or "
                "return its result if it finished), or remove the file to start again"
            )
        console.print(f"resuming from {state_path}")
    torch.set_num_threads(1)
    split = load_split(config.run / "split.npz")
    num_users, num_items = split.train.num_users, split.train.num_items
    user_ids = split.train.user_ids if split.train.user_ids is not None else np.arange(num_users)
    item_ids = split.train.item_ids if split.train.item_ids is not None else np.arange(num_items)
    local = [a for a in dict.fromkeys(config.arms) if a not in config.policy_urls]
    recommenders = {a: Recommender.load(config.run / a / RECOMMENDER_DIR) for a in local}
    arms = config.arms
    names = [f"{a}#{i}" if arms.count(a) > 1 else a for i, a in enumerate(arms)]
    policies = []
    for a in arms:
        if a in config.policy_urls:
            policies.append(HTTPPolicy(config.policy_urls[a], user_ids, item_ids, name=a))
        elif config.retrain_every is not None:  # one learner per arm, A/A included
            policies.append(retraining_policy(recommenders[a], config.retrain_epochs, config.seed))
        else:
            policies.append(RecommenderPolicy(recommenders[a]))
    if config.user_simulator is not None:
        clicks = simulator_world(config.user_simulator, split.train, config.base_rate)
    else:
        clicks = itemknn_world(split, k=config.world_k, base_rate=config.base_rate)
    settings = config.settings()
    if config.ratings and config.user_simulator is not None:
        console.print("[dim]a user simulator chooses items, it gives no star ratings: none simulated[/dim]")
        settings["ratings"] = False
    elif config.ratings and split.train.ratings is None:
        console.print("[yellow]the split has no ratings: mean rating of clicks not simulated[/yellow]")
        settings["ratings"] = False
    elif config.ratings:
        clicks.fit_ratings(split.train.users, split.train.items, split.train.ratings)
    num_events = len(split.train) + len(split.valid) + len(split.test)
    users, ids = np.arange(num_users), [str(u) for u in user_ids]
    options = {
        "rounds": config.rounds,
        "k": config.k,
        "patience": config.patience,
        "seed": config.seed,
        "salt": config.salt,
    }
    if config.diversity_dims:
        options["item_features"] = item_vectors(split, config.diversity_dims, config.seed)
    if config.retrain_every is not None:
        options["retrain_every"] = config.retrain_every
    senders = [
        HTTPFeedback(config.policy_urls[name], user_ids, item_ids, a, f"{config.experiment}:{config.salt}")
        for a, name in enumerate(arms)
        if config.send_feedback and name in config.policy_urls
    ]
    if senders:
        options["observers"] = senders
    if state_path is not None:
        options["state_path"] = state_path
    served = f"; over HTTP: {', '.join(config.policy_urls)}" if config.policy_urls else ""
    world = (
        f"ItemKNN on all {num_events} events of the split"
        if config.user_simulator is None
        else f"the user simulator of {config.user_simulator} (histories: the split's training events)"
    )
    console.print(
        f"{num_users} users, {len(arms)} arms ({', '.join(names)}), {config.rounds} rounds; world: {world}, "
        f"base click rate {config.base_rate}{served}"
    )
    try:
        if config.sharded:
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
        for client in [*policies, *senders]:
            if isinstance(client, HTTPPolicy | HTTPFeedback):
                client.close()
    if started:  # local ports mean nothing after the run: say how the arms were called instead
        settings["policy_urls"] = {
            a: u for a, u in settings.get("policy_urls", {}).items() if a not in started
        }
        settings["served_from_this_process"] = sorted(started)
        if not settings["policy_urls"]:
            del settings["policy_urls"]
    numbers = experiment_report(result, settings, alpha=config.alpha)
    publish(numbers, config.report_dir or config.run / f"abtest-{config.salt}", config, names)


def simulator_world(folder: Path, train, engagement: float):
    """A ``SimulatorClickModel`` around the distilled simulator of ``folder``, its users' histories
    the training events of the run's split; refuses a folder whose catalog lacks the run's items."""
    from simulators.abtest.simulated_users import SimulatorClickModel
    from simulators.users.experiment import load_distilled_folder
    from simulators.users.exposures import log_histories

    simulator = load_distilled_folder(folder)
    missing = [str(i) for i in train.item_ids if str(i) not in simulator.features.index]
    if missing:
        raise ValueError(
            f"{folder}: the simulator's catalog lacks {len(missing)} of the run's {train.num_items} items "
            f"(e.g. {missing[:3]}); distil it on the log the run was trained on"
        )
    return SimulatorClickModel(simulator, train.user_ids, train.item_ids, log_histories(train), engagement)


def publish(numbers: dict, folder: Path, config, names: list[str]) -> None:
    """Print the arms and verdicts, write the report into ``folder`` and, when the config says so,
    record one MLflow run."""
    from simulators.abtest.report import verdicts, write_report

    print_arms(numbers, numbers["settings"]["rounds"])
    for sentence, (name, c) in zip(verdicts(numbers), numbers["comparisons"].items(), strict=True):
        per_user = c["clicks_per_user"]
        console.print(sentence)
        console.print(
            f"  naive daily peeking would stop at round {c['naive_peek_round'] or '-'}; clicks per user "
            f"{name} - {numbers['control']} {per_user['difference']:+.3f} ({per_user['relative']:+.1%}), "
            f"p = {per_user['p_value']:.3g}"
        )
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


@app.command()
def creators(
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML file of creator-experiment fields.")
    ] = None,
    data: Annotated[Path | None, typer.Option(help=help_of("data", CreatorsConfig))] = None,
    arm: Annotated[
        list[str] | None,
        typer.Option("--arm", "-a", help=help_of("arms", CreatorsConfig) + " Repeat the flag."),
    ] = None,
    num_creators: Annotated[
        int | None, typer.Option("--creators", help=help_of("creators", CreatorsConfig))
    ] = None,
    full_information: Annotated[
        bool | None,
        typer.Option(
            "--full-information/--bounded-information", help=help_of("full_information", CreatorsConfig)
        ),
    ] = None,
    explore: Annotated[float | None, typer.Option(help=help_of("explore", CreatorsConfig))] = None,
    produce: Annotated[float | None, typer.Option(help=help_of("produce", CreatorsConfig))] = None,
    fresh_slots: Annotated[int | None, typer.Option(help=help_of("fresh_slots", CreatorsConfig))] = None,
    titles: Annotated[str | None, typer.Option(help=help_of("titles", CreatorsConfig))] = None,
    features: Annotated[str | None, typer.Option(help=help_of("features", CreatorsConfig))] = None,
    epochs: Annotated[int | None, typer.Option(help=help_of("epochs", CreatorsConfig))] = None,
    rounds: Annotated[int | None, typer.Option(help=help_of("rounds", CreatorsConfig))] = None,
    k: Annotated[int | None, typer.Option("-k", help=help_of("k", CreatorsConfig))] = None,
    patience: Annotated[int | None, typer.Option(help=help_of("patience", CreatorsConfig))] = None,
    base_rate: Annotated[float | None, typer.Option(help=help_of("base_rate", CreatorsConfig))] = None,
    seed: Annotated[int | None, typer.Option(help=help_of("seed", CreatorsConfig))] = None,
    salt: Annotated[str | None, typer.Option(help=help_of("salt", CreatorsConfig))] = None,
    alpha: Annotated[float | None, typer.Option(help=help_of("alpha", CreatorsConfig))] = None,
    report_dir: Annotated[Path | None, typer.Option(help=help_of("report_dir", CreatorsConfig))] = None,
    track: Annotated[
        bool | None, typer.Option("--track/--no-track", help=help_of("track", CreatorsConfig))
    ] = None,
    experiment: Annotated[str | None, typer.Option(help=help_of("experiment", CreatorsConfig))] = None,
    tracking_uri: Annotated[str | None, typer.Option(help=help_of("tracking_uri", CreatorsConfig))] = None,
) -> None:
    """Creators inside the arms on Last.fm: each arm's creators (started from real artists) make
    items that join its catalog; the report adds creator population, new-item diversity and
    cold-item success per round to the user-side test."""
    from simulators.abtest.config import load_config

    flags = {
        "data": data,
        "arms": arm,
        "creators": num_creators,
        "full_information": full_information,
        "explore": explore,
        "produce": produce,
        "fresh_slots": fresh_slots,
        "titles": titles,
        "features": features,
        "epochs": epochs,
        "rounds": rounds,
        "k": k,
        "patience": patience,
        "base_rate": base_rate,
        "seed": seed,
        "salt": salt,
        "alpha": alpha,
        "report_dir": report_dir,
        "track": track,
        "experiment": experiment,
        "tracking_uri": tracking_uri,
    }
    run_creators_experiment(load_config(config_file, flags, CreatorsConfig))


def run_creators_experiment(config) -> None:
    """Train a VBPR on the Last.fm play counts, build one creator arm per ranking, simulate, report."""
    import numpy as np
    import torch

    from alignrec.settings import home_dir, require_data
    from recsys.models.vbpr import VBPR
    from recsys.recommender import Recommender
    from recsys.train import fit
    from simulators.abtest.analysis import experiment_report
    from simulators.abtest.creator_platform import CreatorArm, GenreWorld, run_creator_abtest
    from simulators.abtest.creators import CreatorConfig, Creators
    from simulators.abtest.lastfm import creator_topics, read_lastfm

    torch.set_num_threads(1)
    world = read_lastfm(config.data or require_data("lastfm-hetrec2011"))
    log = world.listens
    features, encoder = creator_features(world, config.features, home_dir() / "cache" / "vectors")
    writer = creator_writer(config.titles, home_dir() / "models")
    listeners = np.bincount(log.items, minlength=log.num_items)
    torch.manual_seed(config.seed)
    model = VBPR(log.num_users, log.num_items, features, dim=32, content_dim=16, id_items=listeners > 0)
    fit(
        model,
        log,
        epochs=config.epochs,
        batch_size=1024,
        lr=0.005,
        num_negatives=4,
        seed=config.seed,
        progress=False,
    )
    recommender = Recommender(model, log.to_csr(), log.user_ids, log.item_ids, features=features)
    clicks = GenreWorld.calibrated(world.user_taste, world.tag_vectors, base_rate=config.base_rate)
    rows, topics = creator_topics(world, config.creators, seed=config.seed)
    behaviour = CreatorConfig(
        explore=config.explore, produce=config.produce, full_information=config.full_information
    )
    names = [f"{a}#{i}" if config.arms.count(a) > 1 else a for i, a in enumerate(config.arms)]
    arms = [
        CreatorArm(
            name,
            recommender,
            clicks,
            Creators(topics, behaviour, np.random.default_rng([config.seed, a])),
            ranking="popularity" if ranking == "popularity" else "model",
            fresh_slots=config.fresh_slots,
            seed=config.seed,
            genre_names=world.tags,
            creator_names=[world.names[r] for r in rows],
            writer=writer,
            encoder=encoder,
        )
        for a, (name, ranking) in enumerate(zip(names, config.arms, strict=True))
    ]
    info = "full" if config.full_information else "bounded"
    console.print(
        f"{log.num_users} users, {log.num_items} artists, {len(world.tags)} tags; {config.creators} "
        f"creators per arm ({info} information); arms {', '.join(names)}; {config.rounds} rounds; "
        f"{config.titles} titles; VBPR sees {config.features}"
    )
    users = np.arange(log.num_users)
    result = run_creator_abtest(
        arms,
        users,
        [str(u) for u in world.user_ids],
        rounds=config.rounds,
        k=config.k,
        patience=config.patience,
        seed=config.seed,
        salt=config.salt,
        progress=True,
    )
    numbers = experiment_report(
        result, config.settings(), alpha=config.alpha, creators={arm.name: arm.history for arm in arms}
    )
    for arm in arms:
        history = arm.history
        last = history["genre_entropy"][-10:]
        console.print(
            f"{arm.name}: {history['active_creators'][-1]} of {config.creators} creators active after "
            f"{len(history['active_creators'])} rounds, {sum(history['new_items'])} new items, genre "
            f"entropy {sum(last) / len(last):.2f} nats (last 10 rounds), {history['cold_success'][-1]:.1%} "
            "of new items ever clicked"
        )
        for title, description in arm.texts[:2]:
            console.print(f"  [dim]{title} — {description}[/dim]")
    publish(numbers, config.report_dir or home_dir() / f"creators-{config.salt}", config, names)


def creator_features(world, kind: str, cache_root: Path):
    """What the creator arms' VBPR sees of the Last.fm artists, and the encoder of new items' text:
    the tag vectors and no encoder ("tags"), or MiniLM vectors of "name. top 3 tags" (cached under
    ``cache_root``) and the MiniLM encoder ("text")."""
    import numpy as np

    from simulators.abtest.item_text import catalog_text, minilm_encoder, top_tags

    if kind == "tags":
        return [world.tag_vectors.astype(np.float32)], None
    from product.encoders.text import text_cache

    texts = [
        catalog_text(name, top_tags(vector, world.tags, 3))
        for name, vector in zip(world.names, world.tag_vectors, strict=True)
    ]
    console.print(f"Encoding {len(texts):,} artist texts with all-MiniLM-L6-v2 (cache: {cache_root})")
    catalog = minilm_encoder(text_cache(cache_root), progress=True)(texts)
    return [catalog], minilm_encoder()


def creator_writer(kind: str, cache_dir: Path):
    """The new items' title writer: the seeded template, or SmolLM2-135M-Instruct's titles."""
    from simulators.abtest.item_text import LMWriter, TemplateWriter

    if kind == "template":
        return TemplateWriter()
    from simulators.alignment.base_models import load_base_model

    try:
        model, tokenizer, _ = load_base_model("smollm2", cache_dir)
    except FileNotFoundError as err:
        raise typer.BadParameter(f"--titles lm: {err}", param_hint="--titles") from None
    console.print(
        "[yellow]LM titles: SmolLM2-135M-Instruct writes a few titles a second on a CPU, so each "
        "round takes seconds per arm (every active creator's item is titled).[/yellow]"
    )
    return LMWriter(model, tokenizer)


def retraining_policy(recommender, epochs: int, seed: int):
    """A saved recommender as an arm refitted every R rounds on its training data plus its arm's
    clicks: popularity and ItemKNN refitted, embedding models warm-started from their saved
    parameters for ``epochs`` epochs."""
    from recsys.artifact import build_model
    from simulators.abtest.policies import (
        RetrainingPolicy,
        embedding_trainer,
        itemknn_trainer,
        popularity_trainer,
    )

    name, ids = recommender.name, (recommender.user_ids, recommender.item_ids)
    if name == "pop":
        train = popularity_trainer(*ids)
    elif name == "itemknn":
        train = itemknn_trainer(*ids, k=recommender.model.k)
    elif name in RETRAINABLE_EMBEDDINGS:
        args = recommender.model.init_args()
        start = {key: value.clone() for key, value in recommender.model.state_dict().items()}
        train = embedding_trainer(
            lambda matrix: build_model(name, args, matrix, None), start, *ids, epochs=epochs, seed=seed
        )
    else:
        raise ValueError(
            f"retrain_every: cannot retrain a {name!r} arm (pop, itemknn, {', '.join(RETRAINABLE_EMBEDDINGS)})"
        )
    return RetrainingPolicy(train, recommender.train, name)


RETRAINABLE_EMBEDDINGS = ("bpr", "lightgcn", "cml")  # rebuilt from the interactions alone (no content)


def item_vectors(split, dims: int, seed: int):
    """(I, d) item vectors for intra-list diversity: the item side of a truncated SVD (scaled by
    the singular values) of all the split's interactions, the same events the world is fitted on;
    d = min(dims, min(U, I) - 1)."""
    import numpy as np
    from scipy.sparse.linalg import svds

    everything = (
        (split.train.to_csr() + split.valid.to_csr() + split.test.to_csr()).tocsr().astype(np.float64)
    )
    everything.data[:] = 1.0
    d = min(dims, min(everything.shape) - 1)
    _, singular, vt = svds(everything, k=d, random_state=seed)
    return vt.T * singular  # (I, d)


def print_arms(numbers: dict, rounds: int) -> None:
    optional = [key for key in ("diversity", "mean_rating") if key in next(iter(numbers["arms"].values()))]
    table = Table(title=f"Arms after {rounds} rounds (control: {numbers['control']})")
    columns = ["arm", "users", "CTR", "± se", "clicks/user", "retention", "coverage", "exposure Gini"]
    for column in columns + [key.replace("_", " ") for key in optional]:
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
            *("-" if values[key] is None else f"{values[key]:.3f}" for key in optional),
        )
    console.print(table)
