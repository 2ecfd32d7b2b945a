"""Cheap changes to the single-stage matcher tried for issue 14, each measured on the DeepMatcher
standard splits: train on train, threshold on valid, F1 on test; a change is kept only if it helps
on *valid* on all three sets.

    python -m benchmarks.matching_trials            # writes benchmarks/results/matching_trials.{json,md}

Trials (the feature candidates are computed here, not in ``product.matching``, because none was kept):

* bagging: the mean probability of 5 LightGBM seeds instead of one model;
* LightGBM settings: a grid (leaves, minimum rows per leaf, feature fraction, rounds / learning
  rate) scored on valid with seeds 0-1, then the best setting re-scored with fresh seeds 10-14;
* features: short (version-like) numbers, edition / platform / upgrade words, word-bigram TF-IDF
  of titles, character n-gram TF-IDF of the full text;
* greedy 1:1 among the pairs of a split, applied when it raises valid F1.

Each row gives valid F1 (at its own best threshold), valid average precision and test F1, as the
mean over the seeds named in the row. Needs the title vectors in the cache (a run of
``benchmarks.matching`` without ``--no-cache`` fills it).
"""

from __future__ import annotations

import itertools
import math
import os
import platform
import re
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import average_precision_score

from alignrec.settings import home_dir, require_data
from benchmarks.results_io import write_results
from product.matching.deepmatcher import load_deepmatcher
from product.matching.extract import normalize_text
from product.matching.listing import listing_text
from product.matching.matcher import (
    Matcher,
    MatcherConfig,
    assign_one_to_one,
    best_f1_threshold,
    precision_recall_f1,
)

SETS = ("abt_buy", "amazon_google", "walmart_amazon")
PROTOCOL = "train on train, threshold on valid, test pairs"
_VERSION = re.compile(r"(?<![\w.])(\d{1,4})(?:\s?\.\s?(\d+))?(?![\w])")
UPGRADE = {"upgrade", "upg", "upsell", "update"}
MAC, WIN = {"mac", "macintosh", "osx"}, {"windows", "win", "pc", "xp", "vista"}
EDITIONS = set(
    "academic student teacher edu education professional pro standard std deluxe premium home basic "
    "ultimate enterprise personal business plus lite express gold platinum elements suite server oem".split()
)


def _scores(config: MatcherConfig, x: dict, y: dict, seeds: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Mean valid / test probabilities of one model per seed."""
    out = {"valid": 0.0, "test": 0.0}
    for seed in seeds:
        matcher = Matcher(replace(config, seed=seed)).fit_features(x["train"], y["train"])
        for split in out:
            out[split] = out[split] + matcher.score_features(x[split]) / len(seeds)
    return out


def _f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    return precision_recall_f1(labels, predicted)["f1"]


def _measure(y: dict, scores: dict) -> dict[str, float]:
    threshold = best_f1_threshold(y["valid"], scores["valid"])
    return {
        "valid_f1": _f1(y["valid"], scores["valid"] >= threshold),
        "valid_ap": average_precision_score(y["valid"], scores["valid"]),
        "f1": _f1(y["test"], scores["test"] >= threshold),
    }


def _seed_mean(config: MatcherConfig, x: dict, y: dict, seeds: tuple[int, ...]) -> dict[str, float]:
    rows = [_measure(y, _scores(config, x, y, (seed,))) for seed in seeds]
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def _version_numbers(text: str) -> set[str]:
    """Numbers of at most four digits, "7.0" read as "7" and "10 .5" as "10.5" (versions, sizes)."""
    out = set()
    for whole, fraction in _VERSION.findall(text):
        whole = whole.lstrip("0") or "0"
        out.add(whole if not fraction or set(fraction) == {"0"} else f"{whole}.{fraction}")
    return out


def _platform(words: set[str]) -> str:
    return ("mac" if words & MAC else "") + ("win" if words & WIN else "")


def _word_features(enc, left_idx: np.ndarray, right_idx: np.ndarray) -> pd.DataFrame:
    rows = []
    for i, j in zip(left_idx, right_idx, strict=True):
        a, b = enc.titles[0][i], enc.titles[1][j]
        va, vb = _version_numbers(a), _version_numbers(b)
        text_a = _version_numbers(" ".join(enc.left_profiles[i].text_tokens))
        text_b = _version_numbers(" ".join(enc.right_profiles[j].text_tokens))
        wa, wb = set(a.split()), set(b.split())
        pa, pb = _platform(wa), _platform(wb)
        ea, eb = wa & EDITIONS, wb & EDITIONS
        rows.append(
            {
                "version_conflict": float(not va & vb) if va and vb else math.nan,
                "version_unmatched": float(len(va - text_b) + len(vb - text_a)),
                "upgrade_mismatch": float(bool(wa & UPGRADE) != bool(wb & UPGRADE)),
                "platform_conflict": float(pa != pb) if pa and pb else math.nan,
                "edition_mismatch": float(len(ea ^ eb)) if ea or eb else math.nan,
            }
        )
    return pd.DataFrame(rows).astype(np.float32)


def _tfidf_features(enc, left_idx: np.ndarray, right_idx: np.ndarray) -> pd.DataFrame:
    texts = [
        [normalize_text(listing_text(row)) for _, row in side.iterrows()] for side in (enc.left, enc.right)
    ]
    views = {
        "title_bigram_cos": (
            TfidfVectorizer(token_pattern=r"[^\W_]+", ngram_range=(2, 2), sublinear_tf=True),
            enc.titles,
        ),
        "text_char_cos": (TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True), texts),
    }
    out = {}
    for name, (vectorizer, (left, right)) in views.items():
        vectorizer.fit(left + right)
        a, b = vectorizer.transform(left)[left_idx], vectorizer.transform(right)[right_idx]
        out[name] = np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return pd.DataFrame(out).astype(np.float32)


def _one_to_one_f1(pairs: pd.DataFrame, scores: np.ndarray, threshold: float) -> float:
    match = scores >= threshold
    keep = np.flatnonzero(match)
    match[keep] = assign_one_to_one(
        pairs["left_id"].to_numpy()[keep], pairs["right_id"].to_numpy()[keep], scores[keep]
    )
    return _f1(pairs["label"].to_numpy(), match)


def run_set(name: str, grid: list[MatcherConfig]) -> list[dict]:
    data = load_deepmatcher(require_data(f"deepmatcher/{name}"))
    matcher = Matcher(MatcherConfig())
    enc = matcher.encode(data.left, data.right, home_dir() / "cache" / "vectors")
    x = {split: matcher.features(enc, pairs) for split, pairs in data.splits.items()}
    y = {split: pairs["label"].to_numpy() for split, pairs in data.splits.items()}
    rows = {split: matcher.pair_rows(enc, pairs) for split, pairs in data.splits.items()}
    extra = {split: _word_features(enc, *r).join(_tfidf_features(enc, *r)) for split, r in rows.items()}
    default, seeds = MatcherConfig(), (0, 1, 2)

    def record(trial: str, metrics: dict, **more) -> dict:
        rounded = {k: round(v, 4) for k, v in metrics.items()}
        return {
            "model": f"lightgbm-default {trial}",
            "dataset": f"deepmatcher/{name}",
            "protocol": PROTOCOL,
            **rounded,
            **more,
        }

    records = [record("(single stage)", _seed_mean(default, x, y, seeds), seeds="0-2")]
    records.append(
        record("bagged over 5 seeds", _measure(y, _scores(default, x, y, tuple(range(5)))), seeds="0-4")
    )
    groups = {
        "+ version numbers": ["version_conflict", "version_unmatched"],
        "+ upgrade / platform / edition words": ["upgrade_mismatch", "platform_conflict", "edition_mismatch"],
        "+ title word-bigram TF-IDF": ["title_bigram_cos"],
        "+ full-text char TF-IDF": ["text_char_cos"],
    }
    for trial, columns in groups.items():
        with_extra = {split: x[split].join(extra[split][columns]) for split in x}
        records.append(record(trial, _seed_mean(default, with_extra, y, seeds), seeds="0-2"))
    scores = _scores(default, x, y, (0,))
    threshold = best_f1_threshold(y["valid"], scores["valid"])
    records.append(
        record(
            "greedy 1:1 among the split's pairs",
            {
                "valid_f1": _one_to_one_f1(data.splits["valid"], scores["valid"], threshold),
                "f1": _one_to_one_f1(data.splits["test"], scores["test"], threshold),
            },
            seeds="0",
        )
    )
    grid_rows = [{"config": c, **_seed_mean(c, x, y, (0, 1))} for c in grid]
    return records, grid_rows, (x, y)


def main() -> None:
    load_before = os.getloadavg()[0]
    grid = [
        MatcherConfig(
            num_leaves=leaves,
            min_child_samples=rows,
            feature_fraction=fraction,
            num_boost_round=n,
            learning_rate=lr,
        )
        for leaves, rows, fraction, (n, lr) in itertools.product(
            (15, 31, 63), (5, 20), (0.5, 0.8), ((300, 0.05), (600, 0.03))
        )
    ]
    records, grid_valid, tables = [], {}, {}
    for name in SETS:
        set_records, grid_rows, tables[name] = run_set(name, grid)
        records += set_records
        grid_valid[name] = [r["valid_f1"] for r in grid_rows]
        print(*set_records, sep="\n", flush=True)
    best = grid[int(np.argmax(np.mean([grid_valid[n] for n in SETS], axis=0)))]
    setting = (
        f"{best.num_leaves} leaves, {best.min_child_samples} rows per leaf, feature fraction "
        f"{best.feature_fraction}, {best.num_boost_round} rounds at {best.learning_rate}"
    )
    for name in SETS:
        x, y = tables[name]
        fresh = (10, 11, 12, 13, 14)
        for trial, config in (
            (f"best of {len(grid)} LightGBM settings on valid ({setting})", best),
            ("(single stage)", MatcherConfig()),
        ):
            records.append(
                {
                    "model": f"lightgbm-default {trial}",
                    "dataset": f"deepmatcher/{name}",
                    "protocol": PROTOCOL + ", fresh seeds",
                    **{k: round(v, 4) for k, v in _seed_mean(config, x, y, fresh).items()},
                    "seeds": "10-14",
                }
            )
    notes = (
        f"Command: `python -m benchmarks.matching_trials` on {platform.machine()} "
        f"({os.cpu_count()} cores, LightGBM on one thread; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end). valid_f1 is at the best valid threshold, f1 is test F1 at "
        "that threshold; each row is the mean over the seeds it names. See docs/matching.md "
        "(Improvements tried)."
    )
    write_results("matching_trials", records, title="Product matching: trials for issue 14", notes=notes)


if __name__ == "__main__":
    main()
