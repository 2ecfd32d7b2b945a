"""Second multimodal benchmark: MovieLens items described by text vectors of their titles and genres.

Run: ``python -m benchmarks.multimodal_movielens [--datasets ml-100k,ml-1m] [--section warm|cold]
[--models NAME,...] [--seeds 0,1,2]`` (needs ../shared/data). Records are merged into
``benchmarks/results/multimodal_movielens.{json,md}`` (same model, data set and protocol replaced).

Item content: ``"Title (year). Genres: a, b"`` through all-MiniLM-L6-v2 (384-d, cached by content
hash) is the ``text`` modality; the genre multi-hot vector (19 flags on ML-100K, 18 on ML-1M) is the
``genre`` modality. ML-1M ratings use re-coded item ids; ``item_idx_to_movie_id.csv`` maps them to
MovieIDs and the 95 items it leaves ambiguous (342 ratings) get no text and a zero genre row.

- warm: the protocols of ``benchmarks/recsys.py``: ML-100K all ratings implicit, ML-1M ratings >= 3,
  per-user random 80/10/10 with seed 2026; full ranking over all items, train+valid masked;
  epochs chosen by validation NDCG@10; test Recall/NDCG@10/20, mean ± std over training seeds.
- cold: all implicit events of that split, 20% of items held out entirely (``cold_item_split``,
  seed 2026) and 10% more as cold validation; trained on the rest; each user's cold test items
  ranked among the cold test items only; epochs chosen on the cold validation items (NDCG@20).
Hyperparameters are those of the Amazon benchmark (``benchmarks/multimodal.py``) and of
``benchmarks/recsys.py`` for ML-1M's ID models; nothing was tuned on test.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from alignrec.settings import home_dir, require_data
from benchmarks.multimodal import METRIC_KEYS, summarize, warm_run
from benchmarks.recsys import PROTOCOLS, load_split
from benchmarks.results_io import RESULTS_DIR, write_results
from recsys.cold_start import (
    ColdSplit,
    cold_item_split,
    content_knn_scores,
    evaluate_cold,
    fit_cold,
    random_scores,
)
from recsys.data import Interactions
from recsys.models.bpr import BPR
from recsys.models.cm3 import CM3, CM3Config
from recsys.models.content_cml import ContentCML
from recsys.models.lightgcn import LightGCN
from recsys.models.popularity import MostPopular
from recsys.models.vbpr import VBPR, stack_features
from recsys.movie_catalog import item_content, read_item_idx_map, read_ml1m_movies, read_ml100k_items
from recsys.splits import Split

AREA = "multimodal_movielens"
TITLE = "MovieLens with title+genre text vectors: CM3, VBPR, content-aware CML, warm and cold"


@dataclass(frozen=True)
class Content:
    """Item content row-aligned with the split's internal item ids."""

    text: np.ndarray  # (I, 384) MiniLM vectors of "Title (year). Genres: ..." (zeros: unknown movie)
    genre: np.ndarray  # (I, G) genre multi-hot (zeros: unknown movie)
    missing: int  # items without a known movie


def movie_ids_of(dataset: str, item_ids: np.ndarray) -> list[int | None]:
    """MovieIDs of the split's original item ids (ML-1M: re-coded ``item_idx``, mapped by the CSV)."""
    if dataset == "ml-100k":
        return [int(i) for i in item_ids]
    mapping = read_item_idx_map(require_data("ml-1m/item_idx_to_movie_id.csv"))
    return [mapping.get(int(i)) for i in item_ids]


def load_content(dataset: str, item_ids: np.ndarray) -> Content:
    from product.encoders.text import encode_product_texts, text_cache

    if dataset == "ml-100k":
        catalog = read_ml100k_items(require_data("ml-100k/u.item"), require_data("ml-100k/u.genre"))
    else:
        catalog = read_ml1m_movies(require_data("ml-1m/movies.dat"))
    texts, genre = item_content(catalog, movie_ids_of(dataset, item_ids))
    text, present = encode_product_texts(texts, text_cache(home_dir() / "cache" / "vectors"))
    return Content(text=text, genre=genre, missing=int((~present).sum()))


# ---------------------------------------------------------------------------------------------
# Warm start

# fit() arguments per (data set, model). ML-100K: the Amazon benchmark's settings, LightGCN with the
# recsys benchmark's lr 5e-3 for a 100-epoch budget. ML-1M: recsys benchmark's ID settings; the
# multimodal models get its larger batch (the whole graph is propagated every step). CM3 on ML-1M
# costs ~4-13 min per epoch on one shared CPU thread, so its budget is capped at 6 epochs.
WARM_FIT: dict[str, dict[str, dict[str, object]]] = {
    "ml-100k": {
        "bpr": {"epochs": 300, "eval_every": 5, "patience": 10, "lr": 1e-3},
        "lightgcn": {"epochs": 100, "eval_every": 5, "patience": 6, "lr": 5e-3},
        "vbpr": {"epochs": 200, "eval_every": 5, "patience": 6, "lr": 1e-3},
        "cm3": {"epochs": 30, "eval_every": 5, "patience": 2, "lr": 1e-3, "batch_size": 2048},
    },
    "ml-1m": {
        "bpr": {"epochs": 100, "eval_every": 5, "patience": 3, "lr": 2e-3, "batch_size": 4096},
        "lightgcn": {"epochs": 60, "eval_every": 5, "patience": 3, "lr": 1e-2, "batch_size": 8192},
        "vbpr": {"epochs": 60, "eval_every": 5, "patience": 3, "lr": 2e-3, "batch_size": 4096},
        "cm3": {"epochs": 6, "eval_every": 2, "patience": 2, "lr": 1e-3, "batch_size": 4096},
    },
}

WARM_MODELS = [
    "popularity",
    "bpr",
    "lightgcn",
    "vbpr (text+genre)",
    "cm3 (text+genre)",
    "cm3 (text+genre) unnormalised scores",
]
MODALITIES = {"vbpr": "text (MiniLM 384) + genre multi-hot", "cm3": "text (MiniLM 384) + genre multi-hot"}


def warm_builders(content: Content) -> dict[str, tuple[Callable[[Split, int], object], str]]:
    """name -> (build(split, seed) -> model, key of its fit arguments in WARM_FIT)."""
    both = [content.text, content.genre]
    return {
        "popularity": (lambda s, seed: MostPopular(s.train), ""),
        "bpr": (lambda s, seed: BPR(s.train.num_users, s.train.num_items, dim=64, reg=1e-4), "bpr"),
        "lightgcn": (
            lambda s, seed: LightGCN(s.train.num_users, s.train.num_items, s.train.to_csr(), 64, 3, 1e-4),
            "lightgcn",
        ),
        "vbpr (text+genre)": (
            lambda s, seed: VBPR(s.train.num_users, s.train.num_items, both, dim=64, content_dim=64),
            "vbpr",
        ),
        "cm3 (text+genre)": (
            lambda s, seed: CM3(s.train.num_users, s.train.num_items, s.train.to_csr(), both, CM3Config()),
            "cm3",
        ),
        # The authors' code ranks by the unnormalised propagated vectors (norms carry item degree).
        "cm3 (text+genre) unnormalised scores": (
            lambda s, seed: CM3(
                s.train.num_users,
                s.train.num_items,
                s.train.to_csr(),
                both,
                CM3Config(normalize_scores=False),
            ),
            "cm3",
        ),
    }


def warm_records(dataset: str, names: list[str], seeds: list[int]) -> list[dict]:
    split = load_split(dataset)
    content = load_content(dataset, split.train.item_ids)
    builders = warm_builders(content)
    records = []
    for name in names:
        build, key = builders[name]
        train = WARM_FIT[dataset].get(key, {})
        runs = [warm_run(name, build, split, seed, **train) for seed in seeds]
        records.append(
            {
                "model": name,
                "dataset": dataset,
                "protocol": "warm: " + PROTOCOLS[dataset] + "; best epoch by valid ndcg@10",
                "modalities": MODALITIES.get(key, "none (ids only)"),
                "items_without_movie": content.missing,
                "seeds": len(seeds),
                **summarize(runs),
                "config": json.dumps(train),
            }
        )
    return records


# ---------------------------------------------------------------------------------------------
# Cold start

COLD_FIT: dict[str, dict[str, dict[str, object]]] = {
    # The Amazon benchmark's settings, evaluated more often: with its grid (every 10 / 2 epochs) VBPR
    # and CM3 both kept their first evaluation on the cold validation items.
    "ml-100k": {
        "vbpr": {"epochs": 200, "eval_every": 2, "patience": 10, "lr": 1e-3},
        "cml": {"epochs": 100, "eval_every": 5, "patience": 4, "lr": 3e-3, "num_negatives": 10},
        "cm3": {"epochs": 16, "eval_every": 1, "patience": 4, "lr": 1e-3},
    },
    "ml-1m": {
        "vbpr": {"epochs": 60, "eval_every": 5, "patience": 3, "lr": 2e-3, "batch_size": 4096},
        "cml": {
            "epochs": 40,
            "eval_every": 5,
            "patience": 3,
            "lr": 3e-3,
            "num_negatives": 10,
            "batch_size": 4096,
        },
        "cm3": {"epochs": 4, "eval_every": 1, "patience": 2, "lr": 1e-3, "batch_size": 4096},
    },
}

COLD_MODELS = [
    "random",
    "popularity",
    "content knn (text)",
    "content knn (text+genre)",
    "vbpr content part (text+genre)",
    "content-aware cml (text+genre)",
    "cm3 (text+genre)",
]


def cold_split(dataset: str) -> tuple[ColdSplit, Content]:
    """Every implicit event of the warm split's data, 20% of items cold test and 10% cold valid
    (seed 2026); content re-ordered to the cold split's item ids."""
    split = load_split(dataset)
    parts = [np.stack([p.users, p.items], 1) for p in (split.train, split.valid, split.test)]
    pairs = np.unique(np.concatenate(parts), axis=0)
    data = Interactions(pairs[:, 0], pairs[:, 1], split.train.num_users, split.train.num_items)
    cold = cold_item_split(data, cold_fraction=0.2, valid_fraction=0.1, seed=2026)
    content = load_content(dataset, split.train.item_ids)
    order = cold.item_order
    return cold, Content(content.text[order], content.genre[order], content.missing)


def cold_protocol(dataset: str, split: ColdSplit) -> str:
    base = PROTOCOLS[dataset].split(";")[0]
    return (
        f"cold: {base}; 20% of items held out entirely (seed 2026), 10% more as cold validation; "
        f"trained on the rest; each user's cold test items ranked among the {len(split.test_items)} "
        "cold test items only; best epoch by cold-valid ndcg@20"
    )


def cold_records(dataset: str, names: list[str], seeds: list[int]) -> list[dict]:
    split, content = cold_split(dataset)
    users, items = split.train.num_users, split.num_items
    both = [content.text, content.genre]
    warm = np.arange(items) < split.num_warm
    fixed = {
        "random": lambda seed: random_scores(items, seed),
        # Every cold item has zero training events: popularity ties, broken by item id.
        "popularity": lambda seed: lambda u: np.zeros((len(u), items)),
        "content knn (text)": lambda seed: content_knn_scores(split.train, content.text),
        "content knn (text+genre)": lambda seed: content_knn_scores(
            split.train, stack_features(both).numpy()
        ),
    }
    trained = {
        "vbpr content part (text+genre)": (lambda: VBPR(users, items, both, id_items=warm), "vbpr"),
        "content-aware cml (text+genre)": (lambda: ContentCML(users, items, both), "cml"),
        "cm3 (text+genre)": (lambda: CM3(users, items, split.train_matrix(), both, CM3Config()), "cm3"),
    }
    modalities = {
        "random": "none",
        "popularity": "none",
        "content knn (text)": "text (MiniLM 384)",
    }
    records = []
    for name in names:
        runs, train = [], {}
        for seed in seeds:
            if name in fixed:
                result = evaluate_cold(fixed[name](seed), split).metrics
                runs.append({k: result[k] for k in METRIC_KEYS})
                continue
            build, key = trained[name]
            train = COLD_FIT[dataset][key]
            torch.manual_seed(seed)
            model = build()
            start = time.perf_counter()
            info = fit_cold(model, split, seed=seed, **train)
            result = evaluate_cold(lambda u, m=model: m.scores(torch.from_numpy(u)), split).metrics
            row = {k: result[k] for k in METRIC_KEYS}
            row.update(seconds=time.perf_counter() - start, best_epoch=info["best_epoch"])
            runs.append(row)
            print(f"  {name} seed {seed}: " + " ".join(f"{k} {row[k]:.4f}" for k in METRIC_KEYS), flush=True)
        records.append(
            {
                "model": name,
                "dataset": dataset,
                "protocol": cold_protocol(dataset, split),
                "modalities": modalities.get(name, "text (MiniLM 384) + genre multi-hot"),
                "items_without_movie": content.missing,
                "seeds": len(seeds),
                **summarize(runs),
                **({"config": json.dumps(train)} if train else {}),
            }
        )
    return records


# ---------------------------------------------------------------------------------------------

NOTES = """Rerun: `python -m benchmarks.multimodal_movielens` (or one part:
`--datasets ml-100k --section cold --models "cm3 (text+genre)" --seeds 0,1,2`); records merge into this
file. Mean and `_std` (population std) over the training seeds (`seeds`); the split seed is 2026
throughout. `best_epoch` is the mean selected epoch (validation), `seconds` the mean training time
on one torch thread of a shared 2-core machine. `popularity` on cold items is degenerate (every
cold item has zero training events; ties broken by item id). ML-1M rows: one seed and capped
budgets (CM3 about 5 min per epoch: at most 6 warm / 4 cold epochs; its warm best epoch hit the cap).
`valid_ndcg@10` exists only for runs made after it was added. See docs/multimodal.md,
"MovieLens text vectors"."""


@contextmanager
def _locked():
    """Serialise read-merge-write of the results file between parallel runs."""
    with open(home_dir() / f"{AREA}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def merge_and_write(new: list[dict]) -> None:
    with _locked():
        path = RESULTS_DIR / f"{AREA}.json"
        records = json.loads(path.read_text()) if path.exists() else []
        keys = {(r["model"], r["dataset"], r["protocol"]) for r in new}
        records = [r for r in records if (r["model"], r["dataset"], r["protocol"]) not in keys] + new

        def order(record: dict) -> tuple:
            warm = record["protocol"].startswith("warm")
            names = WARM_MODELS if warm else COLD_MODELS
            rank = names.index(record["model"]) if record["model"] in names else len(names)
            return record["dataset"], not warm, rank

        records.sort(key=order)
        print(write_results(AREA, records, TITLE, NOTES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="ml-100k,ml-1m")
    parser.add_argument("--section", choices=["warm", "cold"], action="append")
    parser.add_argument("--models", default=None, help="comma-separated model names of the section")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds (the split seed is 2026)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    for dataset in args.datasets.split(","):
        for section in args.section or ["warm", "cold"]:
            defaults = WARM_MODELS if section == "warm" else COLD_MODELS
            names = args.models.split(",") if args.models else defaults
            unknown = set(names) - set(defaults)
            if unknown:
                raise SystemExit(f"unknown {section} model(s) {sorted(unknown)}; choose from {defaults}")
            make = warm_records if section == "warm" else cold_records
            merge_and_write(make(dataset, names, seeds))


if __name__ == "__main__":
    main()
