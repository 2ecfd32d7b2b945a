"""``alignrec match``: train a product matcher on labelled pairs, run it on two catalogs, evaluate it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from alignrec.settings import home_dir

app = typer.Typer(
    help="Match listings across two shops: train on labelled pairs, run, evaluate.",
    no_args_is_help=True,
)

Left = Annotated[Path, typer.Option("--left", help="Left catalog (.csv or .jsonl, optionally .gz).")]
Right = Annotated[Path, typer.Option("--right", help="Right catalog (.csv or .jsonl, optionally .gz).")]
Model = Annotated[Path, typer.Option("--model", help="Matcher file written by `alignrec match train`.")]
Cache = Annotated[
    bool, typer.Option(help="Reuse text/image vectors from ALIGNREC_HOME/cache/vectors (content-hash keyed).")
]


def _cache_root(cache: bool) -> Path | None:
    return home_dir() / "cache" / "vectors" if cache else None


@app.command()
def train(
    pairs: Annotated[
        Path, typer.Option(help="Labelled pairs: left_id,right_id,label (or ltable_id,rtable_id,label).")
    ],
    left: Left,
    right: Right,
    out: Annotated[Path, typer.Option(help="Where to write the matcher (JSON).")] = Path("matcher.json"),
    valid: Annotated[
        Path | None, typer.Option(help="Validation pairs for the threshold (default: 5-fold out-of-fold).")
    ] = None,
    fields: Annotated[
        str, typer.Option(help="Comma-separated fields embedded with MiniLM: title, description, text.")
    ] = "title",
    images: Annotated[
        bool, typer.Option(help="Compare EfficientNet-Lite0 vectors of local image files.")
    ] = False,
    k: Annotated[int, typer.Option(help="Neighbours per listing on each blocking path.")] = 10,
    rounds: Annotated[int, typer.Option(help="LightGBM boosting rounds.")] = 300,
    seed: Annotated[int, typer.Option(help="LightGBM seed.")] = 0,
    cache: Cache = True,
) -> None:
    """Train the LightGBM pair matcher and choose its F1-optimal threshold."""
    from product.matching.deepmatcher import read_pairs
    from product.matching.listing import load_listings
    from product.matching.matcher import Matcher, MatcherConfig

    config = MatcherConfig(
        fields=tuple(f.strip() for f in fields.split(",") if f.strip()),
        images=images,
        k=k,
        num_boost_round=rounds,
        seed=seed,
    )
    train_pairs = read_pairs(pairs)
    valid_pairs = read_pairs(valid) if valid else None
    matcher = Matcher(config).fit(
        load_listings(left), load_listings(right), train_pairs, valid_pairs, _cache_root(cache)
    )
    matcher.save(out)
    source = "validation pairs" if valid else f"{config.cv_folds}-fold out-of-fold scores"
    Console().print(
        f"trained on {len(train_pairs)} pairs ({int(train_pairs['label'].sum())} matches); "
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

    matcher = Matcher.load(model)
    left_listings, right_listings = load_listings(left), load_listings(right)
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
    pairs: Annotated[Path, typer.Option(help="Labelled test pairs: left_id,right_id,label.")],
    left: Left,
    right: Right,
    model: Model,
    one_to_one: Annotated[bool, typer.Option(help="Apply 1:1 assignment among the test pairs.")] = False,
    cache: Cache = True,
) -> None:
    """Precision, recall and F1 on labelled pairs, and blocking recall of their matches."""
    from product.matching.blocking import blocking_recall
    from product.matching.deepmatcher import read_pairs
    from product.matching.listing import load_listings
    from product.matching.matcher import Matcher, precision_recall_f1

    matcher = Matcher.load(model)
    test = read_pairs(pairs)
    left_listings, right_listings = load_listings(left), load_listings(right)
    enc = matcher.encode(left_listings, right_listings, _cache_root(cache))
    scored = matcher.predict_pairs(left_listings, right_listings, test, one_to_one=one_to_one, enc=enc)
    scored = test.merge(scored, on=["left_id", "right_id"], how="left")
    metrics = precision_recall_f1(scored["label"].to_numpy(), scored["match"].to_numpy())
    matches = test[test["label"] == 1]
    left_idx, right_idx = matcher.pair_rows(enc, matches)
    candidates = matcher.candidates(enc)
    metrics["blocking_recall"] = blocking_recall(
        candidates, pd.DataFrame({"left_idx": left_idx, "right_idx": right_idx})
    )
    metrics["candidates_per_left"] = len(candidates) / len(left_listings)
    table = Table("metric", "value", title=f"{pairs} ({len(test)} pairs, {len(matches)} matches)")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    Console().print(table)
