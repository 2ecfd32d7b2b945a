"""Size & fit benchmark: the latent-size model with and without review text, against baselines.

    python -m benchmarks.sizefit                 # synthetic (5 seeds) + sparse synthetic (3 seeds)
    python -m benchmarks.sizefit --seeds 10      # more seeds
    python -m benchmarks.sizefit --real          # also the full ModCloth / RentTheRunway files

Protocol (every record's ``protocol`` field): each customer's latest 20% of purchases (at least one,
for customers with two or more) are test records, predicted from the earlier ones; a customer with a
single purchase is a test customer with probability 0.2 (a cold one). Inside the training records the
model holds out the latest 10% of each customer's purchases for early stopping, calibration and the
macro-F1 decision thresholds. Metrics over all test records: macro-F1 and per-class F1 of the
predicted class, one-vs-rest AUC (macro mean) of the calibrated probabilities. Size accuracy over
the test records whose verdict was ``fit``: recommended size (argmax P(fit) over the product's
catalog sizes) == size bought. On synthetic data, ``best_size_accuracy`` compares the recommended
size with the planted truth's best size instead. Reviews: only those of training purchases are read
(never the review of the purchase being predicted).

Synthetic data (``product.sizefit.synthetic``): "default" is the generator's defaults (6,000
customers, about 3 purchases each, 500 products); "sparse" has 8,000 customers with about 2 purchases
each, as in the real files (1.7-1.8 purchases per customer), where a customer's reviews are fewer.
The real files are used when ``clothing-fit/{modcloth,renttherunway}_final_data.json[.gz]`` exist
under ALIGNREC_DATA_DIR (``alignrec sizefit download`` fetches them; embedding RentTheRunway's
reviews takes a long while on CPU).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from alignrec.settings import data_dir
from benchmarks.results_io import write_results
from product.sizefit.evaluate import (
    catalog_from_records,
    customer_mode_size,
    evaluate_recommender,
    fit_metrics,
    product_mode_fit_size,
    product_rate_baseline,
    recommended_sizes,
)
from product.sizefit.records import read_fit_file
from product.sizefit.reviews import embed_frame_reviews
from product.sizefit.split import split_by_customer_time
from product.sizefit.synthetic import generate_fit_data
from product.sizefit.train import SizeFitConfig, train_size_fit

PROTOCOL = (
    "per-customer time split 80/20, single-purchase customers 20% cold; "
    "size accuracy on fit-labelled test records"
)
SYNTHETIC = {
    "default": {},
    "sparse": {"num_customers": 8000, "mean_purchases": 2.0},
}
METRICS = ("macro_f1", "f1_small", "f1_fit", "f1_large", "auc", "size_accuracy", "best_size_accuracy")


def run_once(records: pd.DataFrame, catalog: dict, seed: int, best_size=None) -> dict[str, dict[str, float]]:
    """Metrics of every model on one split of ``records``."""
    train, test = split_by_customer_time(records, 0.2, seed=seed)
    train = train.reset_index(drop=True)
    vectors, has_review = embed_frame_reviews(train)
    fitted = test.loc[test["fit"] == "fit"]
    bought = fitted["size"].to_numpy()
    truth = (
        None
        if best_size is None
        else np.array(
            [best_size(c, p) for c, p in zip(fitted["customer_id"], fitted["product_id"], strict=True)]
        )
    )
    out: dict[str, dict[str, float]] = {}
    for reviews in (False, True):
        started = time.perf_counter()
        recommender, _ = train_size_fit(
            train, SizeFitConfig(use_reviews=reviews, seed=seed), vectors, has_review
        )
        metrics = evaluate_recommender(recommender, test, catalog)
        if truth is not None:
            sizes, _ = recommended_sizes(recommender, fitted, catalog)
            metrics["best_size_accuracy"] = float(np.mean(sizes == truth))
        metrics["seconds"] = time.perf_counter() - started
        out[f"latent size {'with' if reviews else 'without'} reviews"] = metrics
    out["product fit rates"] = fit_metrics(test["fit"], *product_rate_baseline(train, test))
    for name, sizes in (
        ("customer's most common size", customer_mode_size(train, fitted, catalog)),
        ("product's most common fitting size", product_mode_fit_size(train, fitted, catalog)),
    ):
        out[name] = {"size_accuracy": float(np.mean(sizes == bought))}
        if truth is not None:
            out[name]["best_size_accuracy"] = float(np.mean(sizes == truth))
    return out


def summarise(dataset: str, runs: list[dict[str, dict[str, float]]], seeds: list[int]) -> list[dict]:
    """One record per model (mean and sd over seeds), then the with-minus-without-reviews gains."""
    records = []
    for model in runs[0]:
        record = {"model": model, "dataset": dataset, "protocol": PROTOCOL, "seeds": len(seeds)}
        for metric in METRICS + ("seconds",):
            values = [run[model][metric] for run in runs if metric in run[model]]
            if values:
                record[metric] = round(float(np.mean(values)), 4)
                if len(values) > 1 and metric in ("macro_f1", "auc", "size_accuracy"):
                    record[f"{metric}_sd"] = round(float(np.std(values, ddof=1)), 4)
        records.append(record)
    gain = {
        "model": "gain from reviews (with - without)",
        "dataset": dataset,
        "protocol": PROTOCOL,
        "seeds": len(seeds),
    }
    for metric in ("macro_f1", "auc", "size_accuracy"):
        deltas = [
            run["latent size with reviews"][metric] - run["latent size without reviews"][metric]
            for run in runs
        ]
        gain[metric] = round(float(np.mean(deltas)), 4)
        if len(deltas) > 1:
            gain[f"{metric}_sd"] = round(float(np.std(deltas, ddof=1)), 4)
        gain[f"{metric}_per_seed"] = [round(d, 4) for d in deltas]
    records.append(gain)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the default synthetic setting")
    parser.add_argument("--sparse-seeds", type=int, default=3, help="seeds of the sparse synthetic setting")
    parser.add_argument(
        "--real", action="store_true", help="also run the full ModCloth / RentTheRunway files"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    records: list[dict] = []
    for setting, seeds in (("default", args.seeds), ("sparse", args.sparse_seeds)):
        runs = []
        for seed in range(seeds):
            started = time.perf_counter()
            data = generate_fit_data(seed=seed, **SYNTHETIC[setting])
            runs.append(run_once(data.frame, data.truth.catalog, seed, data.best_size))
            gain = (
                runs[-1]["latent size with reviews"]["macro_f1"]
                - runs[-1]["latent size without reviews"]["macro_f1"]
            )
            seconds = time.perf_counter() - started
            print(f"synthetic {setting} seed {seed}: macro-F1 gain {gain:+.4f} ({seconds:.0f} s)", flush=True)
        records += summarise(f"synthetic {setting} (~{len(data.frame)} purchases)", runs, list(range(seeds)))

    notes = []
    root = data_dir()
    for name in ("modcloth", "renttherunway"):
        found = [p for p in (root / "clothing-fit").glob(f"{name}_final_data.json*")] if root else []
        if not args.real or not found:
            why = "not run (pass --real)" if found else "not found under ALIGNREC_DATA_DIR/clothing-fit"
            notes.append(f"{name}: full file {why}.")
            continue
        result = read_fit_file(found[0], on_error="skip")
        frame = result.frame
        print(f"{name}: {len(frame)} records ({result.dropped} dropped)", flush=True)
        run = run_once(frame, catalog_from_records(frame), seed=0)
        records += summarise(f"{name} ({len(frame)} records, {result.dropped} dropped)", [run], [0])

    notes.append(
        "Seeds vary the generated data, the split and training. sd = standard deviation over seeds; "
        "best_size_accuracy = recommended size equals the planted truth's best size (synthetic only)."
    )
    path = write_results(
        "sizefit",
        records,
        title="Size & fit: latent-size model with and without reviews",
        notes="\n".join(f"- {n}" for n in notes),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
