"""``alignrec sizefit``: train a size & fit model, evaluate it with and without reviews, recommend sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignrec.settings import data_dir

app = typer.Typer(
    help="Size & fit: predict small / fit / large and recommend a size from purchases, measurements and reviews.",
    no_args_is_help=True,
)

Data = Annotated[
    str,
    typer.Argument(
        help="A ModCloth or RentTheRunway JSON Lines file (.json or .json.gz; a relative path is also "
        "looked up under ALIGNREC_DATA_DIR), or 'synthetic' for generated purchases."
    ),
]
Seed = Annotated[int, typer.Option(help="Seed of the generator (for 'synthetic'), the split and training.")]
Skip = Annotated[
    bool,
    typer.Option(
        "--skip-bad-records", help="Drop records that cannot be parsed (and list them) instead of stopping."
    ),
]


def _load(data: str, seed: int, skip_bad: bool, console: Console):
    """Canonical records and each product's catalog sizes."""
    from product.sizefit.evaluate import catalog_from_records
    from product.sizefit.records import read_fit_file
    from product.sizefit.synthetic import generate_fit_data

    if data == "synthetic":
        generated = generate_fit_data(seed=seed)
        return generated.frame, generated.truth.catalog
    path = Path(data)
    if not path.exists() and not path.is_absolute() and data_dir() is not None:
        path = data_dir() / data
    if not path.exists():
        raise FileNotFoundError(f"{data}: no such file (here or under ALIGNREC_DATA_DIR)")
    result = read_fit_file(path, on_error="skip" if skip_bad else "raise")
    for issue in result.issues[:5]:
        console.print(f"[yellow]{path}:{issue.line}: {issue.field}: {issue.reason} ({issue.action})[/yellow]")
    if len(result.issues) > 5:
        console.print(f"[yellow]... and {len(result.issues) - 5} more issues[/yellow]")
    console.print(f"read {len(result.frame)} records from {path} ({result.dropped} dropped)")
    return result.frame, catalog_from_records(result.frame)


@app.command()
def train(
    data: Data,
    out: Annotated[
        Path, typer.Option(help="Where to write the model (one file, written atomically).")
    ] = Path("sizefit.pt"),
    reviews: Annotated[bool, typer.Option(help="Read what past purchases' reviews say.")] = True,
    epochs: Annotated[int, typer.Option(help="Passes over the records.")] = 30,
    seed: Seed = 0,
    skip_bad_records: Skip = False,
) -> None:
    """Train on every record and save the model."""
    from product.sizefit.train import SizeFitConfig, train_size_fit

    _one_thread()
    console = Console()
    records, _ = _load(data, seed, skip_bad_records, console)
    recommender, log = train_size_fit(records, SizeFitConfig(use_reviews=reviews, epochs=epochs, seed=seed))
    recommender.save(out)
    console.print(
        f"trained on {len(records)} records ({'with' if reviews else 'without'} reviews), "
        f"best held-out loss {min(log.valid_loss):.4f} at epoch {log.best_epoch}; wrote {out}"
    )


def _one_thread() -> None:
    """The fit net is tiny (a few thousand weights on batches of a thousand rows): more torch
    threads only add synchronisation, which made training ten times slower on a busy 2-core machine."""
    import torch

    torch.set_num_threads(1)


@app.command()
def evaluate(
    data: Data,
    test_fraction: Annotated[
        float, typer.Option(help="Share of each customer's latest purchases held out.")
    ] = 0.2,
    epochs: Annotated[int, typer.Option(help="Passes over the records.")] = 30,
    seed: Seed = 0,
    skip_bad_records: Skip = False,
) -> None:
    """Split per customer in time order, train with and without reviews, and compare with baselines."""
    import numpy as np

    _one_thread()
    from product.sizefit.evaluate import (
        customer_mode_size,
        evaluate_recommender,
        fit_metrics,
        product_mode_fit_size,
        product_rate_baseline,
    )
    from product.sizefit.reviews import embed_frame_reviews
    from product.sizefit.split import split_by_customer_time
    from product.sizefit.train import SizeFitConfig, train_size_fit

    console = Console()
    records, catalog = _load(data, seed, skip_bad_records, console)
    train_records, test = split_by_customer_time(records, test_fraction, seed=seed)
    train_records = train_records.reset_index(drop=True)
    vectors, has_review = embed_frame_reviews(train_records)
    rows: dict[str, dict[str, float]] = {}
    for reviews in (False, True):
        config = SizeFitConfig(use_reviews=reviews, epochs=epochs, seed=seed)
        recommender, _ = train_size_fit(train_records, config, vectors, has_review)
        rows[f"latent size, {'with' if reviews else 'no'} reviews"] = evaluate_recommender(
            recommender, test, catalog
        )
    proba, predicted = product_rate_baseline(train_records, test)
    rows["product fit rates"] = fit_metrics(test["fit"], proba, predicted)
    fitted = test.loc[test["fit"] == "fit"]
    bought = fitted["size"].to_numpy()
    rows["customer's most common size"] = {
        "size_accuracy": float(np.mean(customer_mode_size(train_records, fitted, catalog) == bought))
    }
    rows["product's most common fitting size"] = {
        "size_accuracy": float(np.mean(product_mode_fit_size(train_records, fitted, catalog) == bought))
    }

    columns = ["macro_f1", "f1_small", "f1_fit", "f1_large", "auc", "size_accuracy"]
    table = Table(
        "model",
        *columns,
        title=f"{data}: train {len(train_records)}, test {len(test)} ({len(fitted)} fitted)",
    )
    for name, metrics in rows.items():
        table.add_row(name, *(f"{metrics[c]:.4f}" if c in metrics else "" for c in columns))
    console.print(table)


def _floats(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, got {text!r}") from None


@app.command()
def recommend(
    model: Annotated[Path, typer.Option(help="Model file written by `alignrec sizefit train`.")],
    product: Annotated[str, typer.Option(help="Product id.")],
    sizes: Annotated[str, typer.Option(help="The product's sizes, comma-separated (e.g. 4,6,8,10).")],
    customer: Annotated[
        str, typer.Option(help="Customer id ('' for a customer the shop does not know).")
    ] = "",
    category: Annotated[
        str, typer.Option(help="The product's category (read only for unknown products).")
    ] = "",
    height: Annotated[str | None, typer.Option(help='Height, e.g. "5\' 6\\"" or 168cm.')] = None,
    weight: Annotated[str | None, typer.Option(help="Weight, e.g. 137lbs or 62kg.")] = None,
    bust_size: Annotated[str | None, typer.Option(help="Bra size, e.g. 34d.")] = None,
    body_type: Annotated[str, typer.Option(help="Body type, e.g. hourglass.")] = "",
) -> None:
    """P(small), P(fit), P(large) of each size and the size most likely to fit."""
    from product.sizefit.recommend import Customer, Product, SizeRecommender
    from product.sizefit.records import parse_bust_size, parse_height_cm, parse_weight_kg

    band, cup = parse_bust_size(bust_size) if bust_size else (None, None)
    who = Customer(
        customer_id=customer,
        height_cm=parse_height_cm(height) if height else None,
        weight_kg=parse_weight_kg(weight) if weight else None,
        band_in=band,
        cup=cup,
        body_type=body_type,
    )
    result = SizeRecommender.load(model).recommend(who, Product(product, category), _floats(sizes))
    table = Table(
        "size", "P(small)", "P(fit)", "P(large)", title=f"customer {customer or '(new)'}, product {product}"
    )
    for option in result.options:
        mark = " <- recommended" if option.size == result.recommended_size else ""
        table.add_row(
            f"{option.size:g}{mark}", f"{option.p_small:.3f}", f"{option.p_fit:.3f}", f"{option.p_large:.3f}"
        )
    Console().print(table)
    Console().print(f"recommended size {result.recommended_size:g} (from the customer's {result.basis})")


@app.command()
def download(
    to: Annotated[
        Path | None,
        typer.Option(
            help="Target folder (default: $ALIGNREC_DATA_DIR/clothing-fit, else .alignrec/data/clothing-fit)."
        ),
    ] = None,
    only: Annotated[str | None, typer.Option(help="Fetch just 'modcloth' or 'renttherunway'.")] = None,
    sha256: Annotated[
        str | None, typer.Option(help="Expected SHA-256 (with --only); none is pinned yet.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the server before giving up (offline).")
    ] = 10.0,
) -> None:
    """Fetch the full ModCloth and RentTheRunway files and check their record counts (and SHA-256)."""
    import warnings

    from alignrec.settings import home_dir
    from product.sizefit.download import FILES
    from product.sizefit.download import download as fetch

    if sha256 and not only:
        raise typer.BadParameter("--sha256 needs --only: each file has its own digest")
    target = to or (data_dir() or home_dir() / "data") / "clothing-fit"
    console = Console()
    for name in [only] if only else FILES:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                path = fetch(name, target, sha256=sha256, timeout=timeout)
            except ConnectionError as error:
                console.print(f"[bold red]error:[/bold red] {error}", highlight=False)
                raise typer.Exit(1) from None
        for warning in caught:
            console.print(f"[yellow]warning:[/yellow] {warning.message}", highlight=False)
        console.print(f"{path}: {FILES[name].records} records", highlight=False)
