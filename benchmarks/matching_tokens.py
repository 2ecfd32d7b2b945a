"""Token-alignment features (``product.matching.token_align``) with and without, on the DeepMatcher
standard splits.

    python -m benchmarks.matching_tokens                      # writes results/matching_tokens.{json,md}
    python -m benchmarks.matching_tokens --sets abt_buy --no-cache

Two protocols, each row saying which:

* default matcher: ``MatcherConfig()`` (score context kept only where it raises valid F1), trained
  on train with the threshold on valid, P/R/F1 on valid and test, with and without
  ``token_align``; ``cpu_s`` adds encoding (and the token pass), training, matching the test pairs
  and scoring every blocking candidate, as ``benchmarks.matching`` does;
* single stage, seeds 0-2: the mean over three LightGBM seeds of valid F1 (at its own best
  threshold) and test F1 at that threshold, as ``benchmarks.matching_trials`` does, the feature
  tables being the same but for the token columns.

A choice between the two variants is made on valid F1 only; test F1 is reported, never used.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from alignrec.settings import home_dir, require_data
from benchmarks.matching import DEEPMATCHER, _Clock
from benchmarks.matching_trials import _seed_mean
from benchmarks.online import machine
from benchmarks.results_io import write_results
from product.matching.deepmatcher import load_deepmatcher
from product.matching.features import embed_title_tokens
from product.matching.matcher import Matcher, MatcherConfig, precision_recall_f1
from product.matching.token_align import FEATURES

PROTOCOL = "train on train, threshold on valid, test pairs"


def _prf(labels: np.ndarray, scores: np.ndarray, threshold: float, prefix: str = "") -> dict[str, float]:
    metrics = precision_recall_f1(labels, scores >= threshold)
    return {f"{prefix}{k}": round(v, 4) for k, v in metrics.items()}


def run_set(name: str, cache_root: Path) -> list[dict]:
    data = load_deepmatcher(require_data(f"deepmatcher/{name}"))
    dataset = f"deepmatcher/{name}"
    config = MatcherConfig()
    with _Clock() as encode:
        base = Matcher(config).encode(data.left, data.right, cache_root)
    with _Clock() as token_encode:
        tokens = (embed_title_tokens(data.left, cache_root), embed_title_tokens(data.right, cache_root))
    encoded = {"": base, "+tokens": replace(base, tokens=tokens)}

    records = []
    for suffix, enc in encoded.items():
        matcher = Matcher(replace(config, token_align=bool(suffix)))
        with _Clock() as train:
            matcher.fit_encoded(enc, data.splits["train"], data.splits["valid"])
        with _Clock() as match:
            test_scores, _ = matcher.score_pairs(enc, *matcher.pair_rows(enc, data.splits["test"]))
        with _Clock() as run_all:
            candidates = len(matcher.predict_pairs(data.left, data.right, enc=enc))
        valid_scores, _ = matcher.score_pairs(enc, *matcher.pair_rows(enc, data.splits["valid"]))
        encode_cpu = encode.cpu + (token_encode.cpu if suffix else 0.0)
        records.append(
            {
                "model": f"lightgbm-default{suffix}",
                "dataset": dataset,
                "protocol": PROTOCOL,
                **_prf(data.splits["valid"]["label"].to_numpy(), valid_scores, matcher.threshold, "valid_"),
                **_prf(data.splits["test"]["label"].to_numpy(), test_scores, matcher.threshold),
                "score_context": bool(matcher.fold_boosters),
                "encode_cpu_s": round(encode.cpu, 1),
                "token_encode_cpu_s": round(token_encode.cpu, 1) if suffix else "",
                "train_cpu_s": round(train.cpu, 1),
                "match_cpu_s": round(match.cpu, 1),
                "run_all_candidates_cpu_s": round(run_all.cpu, 1),
                "run_candidates": candidates,
                "cpu_s": round(encode_cpu + train.cpu + match.cpu + run_all.cpu, 1),
                **machine(),
            }
        )
        print(records[-1], flush=True)
    records[1]["cpu_ratio_to_without"] = round(records[1]["cpu_s"] / records[0]["cpu_s"], 2)

    # Single stage over seeds: identical tables but for the token columns.
    scorer = Matcher(replace(config, token_align=True))
    x = {split: scorer.features(encoded["+tokens"], pairs) for split, pairs in data.splits.items()}
    y = {split: pairs["label"].to_numpy() for split, pairs in data.splits.items()}
    without = {split: table.drop(columns=list(FEATURES)) for split, table in x.items()}
    for suffix, tables in (("", without), ("+tokens", x)):
        records.append(
            {
                "model": f"lightgbm-default-single-stage{suffix}",
                "dataset": dataset,
                "protocol": PROTOCOL + ", mean of LightGBM seeds 0-2, valid F1 at its own best threshold",
                **{k: round(v, 4) for k, v in _seed_mean(config, tables, y, (0, 1, 2)).items()},
                "seeds": "0-2",
                **machine(),
            }
        )
        print(records[-1], flush=True)
    return records


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(DEEPMATCHER), help="comma-separated DeepMatcher sets")
    parser.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reuse title and token vectors from ALIGNREC_HOME/cache/vectors (--no-cache: cold run)",
    )
    parser.add_argument(
        "--area", default="matching_tokens", help="results file stem under benchmarks/results"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    cache_root = home_dir() / "cache" / "vectors" if args.cache else Path(tempfile.mkdtemp(prefix="vectors-"))
    records = []
    for name in args.sets.split(","):
        if name not in DEEPMATCHER:
            raise SystemExit(f"unknown set {name!r}; choose from {DEEPMATCHER}")
        records += run_set(name, cache_root)
    command = f"python -m benchmarks.matching_tokens --sets {args.sets}{'' if args.cache else ' --no-cache'}"
    notes = (
        f"Command: `{command}` on {platform.machine()} ({os.cpu_count()} cores; MiniLM and LightGBM on "
        f"one thread each; load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
        "end). "
        + (
            "Title and token vectors came from the cache when present (encode_cpu_s and "
            "token_encode_cpu_s then exclude MiniLM). "
            if args.cache
            else "Cold start: encode_cpu_s includes MiniLM on every title, token_encode_cpu_s the "
            "second MiniLM pass that keeps token vectors. "
        )
        + "valid_* and precision / recall / f1 of the default rows are at the threshold chosen on valid; "
        "the single-stage rows are means over seeds 0-2. See docs/matching.md."
    )
    write_results(args.area, records, title="Product matching: token-alignment features", notes=notes)
    if not args.cache:
        shutil.rmtree(cache_root)


if __name__ == "__main__":
    main()
