"""``alignrec match``: train a product matcher on labelled pairs, run it on two catalogs, evaluate it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignrec.settings import home_dir

if TYPE_CHECKING:  # pandas is imported by the commands, so that `--help` stays light
    import pandas as pd

app = typer.Typer(
    help="Match listings across two shops: train on labelled pairs, run, evaluate.",
    no_args_is_help=True,
)

# Named starting points for `match train --config`; explicit options override them. "strong" is the
# benchmark's stronger configuration (docs/matching.md, Results): MiniLM of descriptions and of all
# text too, and a slower, longer LightGBM; it about triples encoding time.
CONFIGS: dict[str, dict] = {
    "default": {},
    "strong": {"fields": ("title", "description", "text"), "num_boost_round": 600, "learning_rate": 0.03},
}
Config = StrEnum("Config", {name: name for name in CONFIGS})  # type: ignore[misc]
# product.text_encoder.PRECISIONS, spelled out so that `--help` imports nothing heavy (a test checks)
TextPrecision = StrEnum("TextPrecision", {name: name for name in ("auto", "fp32", "bf16")})  # type: ignore[misc]

PAIR_ROWS = (
    "without --left/--right, one row per pair with both products' fields "
    "(ProMap: id1, name1, ..., id2, name2, ..., match)"
)
Left = Annotated[Path | None, typer.Option("--left", help="Left catalog (.csv or .jsonl, optionally .gz).")]
Right = Annotated[
    Path | None, typer.Option("--right", help="Right catalog (.csv or .jsonl, optionally .gz).")
]
Model = Annotated[Path, typer.Option("--model", help="Matcher file written by `alignrec match train`.")]
Cache = Annotated[
    bool, typer.Option(help="Reuse text/image vectors from ALIGNREC_HOME/cache/vectors (content-hash keyed).")
]


def _cache_root(cache: bool) -> Path | None:
    return home_dir() / "cache" / "vectors" if cache else None


def _labelled(
    pairs: Path, left: Path | None, right: Path | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Left catalog, right catalog and pairs, read and checked (ids included) before any encoding."""
    from product.matching.listing import load_listings
    from product.matching.pairs import read_pair_rows, read_pairs

    if left is None and right is None:
        return read_pair_rows(pairs)
    if left is None or right is None:
        raise typer.BadParameter(
            "give both --left and --right, or neither for a pairs file with both products per row"
        )
    left_listings, right_listings = load_listings(left), load_listings(right)
    return left_listings, right_listings, read_pairs(pairs, left_listings, right_listings)


@app.command()
def train(
    pairs: Annotated[
        Path,
        typer.Option(
            help=f"Labelled pairs: left_id,right_id,label (or ltable_id,rtable_id,label); {PAIR_ROWS}."
        ),
    ],
    left: Left = None,
    right: Right = None,
    out: Annotated[Path, typer.Option(help="Where to write the matcher (JSON).")] = Path("matcher.json"),
    valid: Annotated[
        Path | None,
        typer.Option(
            help="Validation pairs for the threshold, same shape as --pairs (default: 5-fold out-of-fold)."
        ),
    ] = None,
    config: Annotated[
        Config,
        typer.Option(help="Starting configuration; 'strong' is the benchmark's stronger one (slower)."),
    ] = Config.default,  # type: ignore[attr-defined]
    fields: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated fields embedded with MiniLM: title, description, text (default: from --config)."
        ),
    ] = None,
    images: Annotated[
        bool, typer.Option(help="Compare EfficientNet-Lite0 vectors of local image files.")
    ] = False,
    k: Annotated[int, typer.Option(help="Neighbours per listing on each blocking path.")] = 10,
    rounds: Annotated[
        int | None, typer.Option(help="LightGBM boosting rounds (default: from --config).")
    ] = None,
    learning_rate: Annotated[
        float | None, typer.Option(help="LightGBM learning rate (default: from --config).")
    ] = None,
    seed: Annotated[int, typer.Option(help="LightGBM seed.")] = 0,
    text_precision: Annotated[
        TextPrecision,
        typer.Option(
            help="MiniLM precision: auto (bf16 on CPUs with bfloat16 units), fp32 (the same vectors "
            "whatever the batch, cache or CPU: reproducible reruns, ~2.5x the encoder's CPU there), bf16. "
            "Kept in the saved matcher."
        ),
    ] = TextPrecision.auto,  # type: ignore[attr-defined]
    cache: Cache = True,
) -> None:
    """Train the LightGBM pair matcher and choose its F1-optimal threshold."""
    from product.matching.matcher import Matcher, MatcherConfig
    from product.matching.pairs import check_labels, read_pair_rows, read_pairs, union_catalogs

    settings = {**CONFIGS[config.value], "images": images, "k": k, "seed": seed}
    settings["text_precision"] = text_precision.value
    if fields is not None:
        settings["fields"] = tuple(f.strip() for f in fields.split(",") if f.strip())
    if rounds is not None:
        settings["num_boost_round"] = rounds
    if learning_rate is not None:
        settings["learning_rate"] = learning_rate
    matcher_config = MatcherConfig(**settings)
    left_listings, right_listings, train_pairs = _labelled(pairs, left, right)
    check_labels(train_pairs["label"], str(pairs))
    valid_pairs = None
    if valid is not None and left is None:
        valid_left, valid_right, valid_pairs = read_pair_rows(valid)
        left_listings = union_catalogs(left_listings, valid_left)
        right_listings = union_catalogs(right_listings, valid_right)
    elif valid is not None:
        valid_pairs = read_pairs(valid, left_listings, right_listings)
    if valid_pairs is not None:
        check_labels(valid_pairs["label"], str(valid))
    matcher = Matcher(matcher_config).fit(
        left_listings, right_listings, train_pairs, valid_pairs, _cache_root(cache)
    )
    matcher.save(out)
    source = "validation pairs" if valid else f"{matcher_config.cv_folds}-fold out-of-fold scores"
    Console().print(
        f"trained on {len(train_pairs)} pairs ({int(train_pairs['label'].sum())} matches) between "
        f"{len(left_listings)} and {len(right_listings)} listings; "
        f"threshold {matcher.threshold:.3f} from {source}; wrote {out}"
    )


@app.command()
def run(
    left: Annotated[Path, typer.Argument(help="Left catalog (.csv or .jsonl).")],
    right: Annotated[Path, typer.Argument(help="Right catalog (.csv or .jsonl).")],
    model: Model,
    out: Annotated[Path, typer.Option(help="CSV of pairs: left_id,right_id,score,match[,why].")] = Path(
        "matches.csv"
    ),
    one_to_one: Annotated[bool, typer.Option(help="Keep at most one match per listing.")] = False,
    explain: Annotated[int, typer.Option(help="Top features per decision in a `why` column (0: none).")] = 3,
    all_candidates: Annotated[
        bool, typer.Option("--all", help="Write every scored candidate, not only matches.")
    ] = False,
    cache: Cache = True,
) -> None:
    """Block, score and decide matches between two catalogs."""
    from product.matching.listing import load_listings
    from product.matching.matcher import Matcher

    left_listings, right_listings = load_listings(left), load_listings(right)
    matcher = Matcher.load(model)
    enc = matcher.encode(left_listings, right_listings, _cache_root(cache))
    result = matcher.predict_pairs(
        left_listings, right_listings, one_to_one=one_to_one, explain=explain, enc=enc
    )
    written = result if all_candidates else result[result["match"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    written.to_csv(out, index=False)
    Console().print(
        f"scored {len(result)} candidate pairs, {int(result['match'].sum())} matches; "
        f"wrote {len(written)} rows to {out}"
    )


@app.command()
def evaluate(
    pairs: Annotated[Path, typer.Option(help=f"Labelled test pairs: left_id,right_id,label; {PAIR_ROWS}.")],
    model: Model,
    left: Left = None,
    right: Right = None,
    one_to_one: Annotated[bool, typer.Option(help="Apply 1:1 assignment among the test pairs.")] = False,
    cache: Cache = True,
) -> None:
    """Precision, recall and F1 on labelled pairs (a repeated pair counts once), and blocking
    recall of their matches."""
    import pandas as pd

    from product.matching.blocking import blocking_recall
    from product.matching.matcher import Matcher, precision_recall_f1

    left_listings, right_listings, test = _labelled(pairs, left, right)
    matcher = Matcher.load(model)
    enc = matcher.encode(left_listings, right_listings, _cache_root(cache))
    scored = matcher.predict_pairs(left_listings, right_listings, test, one_to_one=one_to_one, enc=enc)
    scored = test.merge(scored, on=["left_id", "right_id"], how="left", validate="one_to_one")
    metrics = precision_recall_f1(scored["label"].to_numpy(), scored["match"].to_numpy())
    matches = test[test["label"] == 1]
    left_idx, right_idx = matcher.pair_rows(enc, matches)
    candidates = matcher.candidates(enc)
    metrics["blocking_recall"] = blocking_recall(
        candidates, pd.DataFrame({"left_idx": left_idx, "right_idx": right_idx})
    )
    metrics["candidates_per_left"] = len(candidates) / len(left_listings)
    table = Table("metric", "value", title=f"{pairs} ({len(test)} distinct pairs, {len(matches)} matches)")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    Console().print(table)
