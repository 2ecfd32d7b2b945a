"""``alignrec encode``: a product catalog -> per-modality item vectors (``.npy``) with masks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignrec.settings import home_dir

# = product.encoders.MODALITIES and the text encoder's defaults (checked by a test); the encoders
# themselves (torch, transformers) are imported when the command runs.
MODALITIES = ("text", "image", "attributes")
DEFAULT_BATCH_SIZE = 128
DEFAULT_THREADS = 2


def encode(
    catalog: Annotated[
        Path,
        typer.Argument(
            help="Catalog file: CSV or JSON Lines (optionally .gz) with item_id, title, description, "
            "categories, brand, price, image, specs; or a UniSRec '.text' file."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Folder for <modality>_feat.npy, masks, item_ids.txt, report.json.")
    ] = Path("features"),
    modality: Annotated[
        list[str] | None,
        typer.Option(help=f"Modalities to encode (repeat the option); any of {', '.join(MODALITIES)}."),
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Content-hash vector cache (default: $ALIGNREC_HOME/cache/vectors).")
    ] = None,
    no_cache: Annotated[bool, typer.Option(help="Do not read or write the vector cache.")] = False,
    batch_size: Annotated[int, typer.Option(help="Texts per model batch.")] = DEFAULT_BATCH_SIZE,
    threads: Annotated[int, typer.Option(help="torch threads for the encoders.")] = DEFAULT_THREADS,
    precision: Annotated[
        str,
        typer.Option(
            help="Text encoder precision: auto (bfloat16 on CPUs with AMX/AVX512-BF16, else fp32), "
            "fp32 or bf16."
        ),
    ] = "auto",
) -> None:
    """Encode every product of a catalog (text, image, attributes) and report missing inputs."""
    import torch

    from product.encoders import encode_catalog, read_catalog, read_unisrec_text, save_features

    torch.set_num_threads(threads)
    products = read_unisrec_text(catalog) if catalog.suffix == ".text" else read_catalog(catalog)
    cache_root = None if no_cache else (cache_dir or home_dir() / "cache" / "vectors")
    features = encode_catalog(
        products,
        tuple(modality or MODALITIES),
        cache_root=cache_root,
        batch_size=batch_size,
        progress=True,
        text_precision=precision,
    )
    save_features(features, out)
    table = Table(title=f"{len(products)} products encoded -> {out}")
    for column in ("modality", "dim", "missing", "missing rate", "reasons"):
        table.add_column(column)
    for name, row in features.report().items():
        reasons = ", ".join(f"{k}: {v}" for k, v in row["reasons"].items() if v) or "-"
        table.add_row(name, str(row["dim"]), str(row["missing"]), f"{row['missing_rate']:.1%}", reasons)
    Console().print(table)
