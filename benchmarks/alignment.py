"""Preference alignment of SmolLM2-135M-Instruct (+ LoRA) on ML-100K: held-out preference accuracy
before and after each objective, and seconds per optimizer step, on CPU.

Data (``simulators.preference_data``): ML-100K ratings, movie titles and ``u.user`` personas; per user
in time order, prompts show the persona, the last ``--history`` rated movies strictly before the anchor
and an exposure of ``--list-size`` movies. SFT and DPO train on pairwise rows (chosen: a movie the user
rated >= 4 at the anchor; rejected: a shown movie the user never rated), KTO and BCO on binary rows
(rating >= 4 desirable, <= 2 undesirable), LiPO on lists of the next ``--list-size`` rated movies. CUT
needs review texts, which ML-100K lacks: it trains on Amazon Fashion 2018 5-core reviews (judgment =
rating + review text; items are ASINs, the data has no titles; anchors may have an empty history)
and is evaluated on that log's held-out pairs. One seed holds out the same 10 %
of users for every layout.

Metric: on held-out users' pairwise rows, the share of pairs where the model gives the chosen movie
the higher log-probability (likelihood accuracy, base vs tuned), and where the tuned model's log-ratio
to the base model is higher for the chosen movie (log-ratio accuracy; the base model scores 0.5 by
definition). Every objective gets the same steps, batch size and learning rate.

``--keep-uncertain F`` (SFT, DPO) trains on the share F of a seeded random pool of ``--filter-pool``
training pairs on which the base model's choice is most uncertain (``simulators.alignment.filtering``);
the row records the filter's report. Each row carries the trainer's logged metrics over training
(``log_history``).

    python -m benchmarks.alignment --objective sft --objective dpo --threads 1   # then kto bco, lipo, cut
    python -m benchmarks.alignment --objective dpo --keep-uncertain 0.25 --filter-pool 320 --threads 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from transformers import TrainerCallback

from alignrec.commands.align import LAYOUT, build_lora, run_config, trainer_classes
from alignrec.settings import home_dir, require_data
from benchmarks.results_io import RESULTS_DIR, write_results
from recsys.movie_catalog import read_ml100k_items
from recsys.readers import read_amazon_reviews, read_movielens_100k
from simulators.alignment.base_models import load_base_model
from simulators.alignment.evaluation import pair_logprobs, preference_metrics
from simulators.alignment.filtering import keep_uncertain
from simulators.preference_data import (
    build_preferences,
    movielens_item_texts,
    read_amazon_review_texts,
    read_ml100k_personas,
    sft_view,
)

AREA = "alignment"
# What the trainers log, in the order the rows show them.
LOGGED = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "kl",
    "rewards/desirable",
    "rewards/undesirable",
    "delta",
    "accuracy",
    "pair_accuracy",
    "inappropriate_share",
    "mean_token_accuracy",
)


class StepTimer(TrainerCallback):
    """Wall seconds of every optimizer step (forward, backward, update)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._start)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def base_logprobs(model, tokenizer, pairs, max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The base model's (chosen, rejected) log-probs, cached on disk by the pairs' content."""
    digest = hashlib.sha256(json.dumps([pairs.to_list(), max_length], sort_keys=True).encode()).hexdigest()[
        :16
    ]
    path = home_dir() / "bench" / f"alignment-base-{digest}.pt"
    if path.exists():
        return tuple(torch.load(path))
    result = pair_logprobs(model, tokenizer, pairs, max_length, batch_size=16)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(list(result), path)
    return result


def trajectory(logs: list[dict]) -> str:
    """Each logged metric's values over the logged steps: ``steps 4 8; loss 0.5 0.49; ...``."""
    series = [("steps", [entry["step"] for entry in logs])]
    series += [(k, [entry[k] for entry in logs]) for k in LOGGED if logs and k in logs[0]]
    return "; ".join(
        f"{k} " + " ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values)
        for k, values in series
    )


def movielens_data(args) -> dict[str, object]:
    root = require_data("ml-100k")
    log = read_movielens_100k(root / "u.data.gz")
    texts = movielens_item_texts(log, read_ml100k_items(root / "u.item", root / "u.genre"))
    personas = read_ml100k_personas(root / "u.user", log)
    common = dict(
        item_texts=texts,
        personas=personas,
        history=args.history,
        list_size=args.list_size,
        max_per_user=args.max_per_user,
        eval_fraction=0.1,
        seed=args.seed,
    )
    return {kind: build_preferences(log, kind, **common) for kind in ("pairwise", "binary", "listwise")}


def amazon_data(args) -> dict[str, object]:
    path = require_data("amazon-fashion-2018/AMAZON_FASHION_5.jsonl.gz")
    log = read_amazon_reviews(path)
    reviews = read_amazon_review_texts(path)
    # Reviews carry day-granular times and a user often reviews several items on one day, so most
    # events have no strictly earlier one: anchors may have an empty history here.
    common = dict(
        history=args.history,
        list_size=args.list_size,
        max_per_user=args.max_per_user,
        min_history=0,
        eval_fraction=0.1,
        seed=args.seed,
    )
    return {
        "judgments": build_preferences(log, "judgments", reviews=reviews, **common),
        "pairwise": build_preferences(log, "pairwise", **common),
    }


def run_objective(objective: str, data: dict, args) -> dict:
    """Train one objective from the base model and measure it on held-out pairs."""
    prefs = data[LAYOUT[objective]]
    pairs = (
        data["pairwise"]
        .eval.shuffle(seed=args.seed)
        .select(range(min(args.eval_pairs, len(data["pairwise"].eval))))
    )
    model, tokenizer, _ = load_base_model("smollm2", home_dir() / "models")
    started = time.perf_counter()
    base = base_logprobs(model, tokenizer, pairs, args.max_length)
    base_eval_seconds = time.perf_counter() - started

    config_cls, trainer_cls = trainer_classes()[objective]
    settings = {
        "max_steps": args.steps,
        "per_device_train_batch_size": args.batch_size,
        "learning_rate": args.lr,
        "max_length": args.max_length,
        "save_strategy": "no",
        "logging_steps": 4,
        "disable_tqdm": True,
        "seed": args.seed,
    }
    if objective in ("dpo", "kto", "bco", "lipo"):
        settings["beta"] = args.beta
    run_dir = home_dir() / "bench" / f"alignment-{objective}"
    train_args, _ = run_config(config_cls, objective, settings, run_dir, "benchmark")
    train_set, filtered = prefs.train, {}
    if args.keep_uncertain is not None:
        # Scoring costs ~1 s of one core per pair, so only a seeded random pool of the rows is scored.
        pool = prefs.train.shuffle(seed=args.seed).select(range(min(args.filter_pool, len(prefs.train))))
        train_logps = base_logprobs(model, tokenizer, pool, args.max_length)
        train_set, filtered = keep_uncertain(pool, train_logps, args.keep_uncertain)
        print(f"{objective}: kept {filtered['kept']} of {filtered['of']} training pairs", filtered)
    train_set = train_set.shuffle(seed=args.seed)
    if objective == "sft":
        train_set = sft_view(train_set)
    timer = StepTimer()
    trainer = trainer_cls(
        model=model,
        args=train_args,
        train_dataset=train_set,
        processing_class=tokenizer,
        peft_config=build_lora({"r": args.lora_r}),
        callbacks=[timer],
    )
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    result = trainer.train()
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    tuned = pair_logprobs(trainer.model, tokenizer, pairs, args.max_length, batch_size=16)
    eval_seconds = time.perf_counter() - started
    metrics = preference_metrics(base, tuned)
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    last = logs[-1] if logs else {}
    steps = sorted(timer.seconds)
    return {
        "model": f"smollm2-135m-instruct+lora-r{args.lora_r}",
        "dataset": "ml-100k" if objective != "cut" else "amazon-fashion-2018",
        "protocol": (
            f"{objective}; "
            + (
                f"keep the {args.keep_uncertain:g} most uncertain of {filtered['of']} random pairs; "
                if filtered
                else ""
            )
            + f"{args.steps} steps x batch {args.batch_size}, lr {args.lr}, "
            f"history {args.history}, list {args.list_size}, <= {args.max_per_user}/user; "
            f"held-out users' pairs: {len(pairs)}"
        ),
        "threads": torch.get_num_threads(),
        "objective": objective,
        "train_examples": len(train_set),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()},
        "train_loss": round(result.training_loss, 4),
        **{f"filter_{k}": round(v, 4) if isinstance(v, float) else v for k, v in filtered.items()},
        "last_logged": ", ".join(f"{k}={last[k]:.4g}" for k in LOGGED if k in last),
        "log_history": trajectory(logs),
        "seconds_per_step": round(steps[len(steps) // 2], 3),
        "seconds_per_step_mean": round(sum(steps) / len(steps), 3),
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(eval_seconds + base_eval_seconds, 1),
        "cpu": cpu_model(),
        "load_avg": f"{load_start:.2f} -> {os.getloadavg()[0]:.2f}",
        "torch": torch.__version__,
        "commit": git_commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objective", action="append", choices=sorted(LAYOUT), required=True)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--history", type=int, default=3)
    parser.add_argument("--list-size", type=int, default=3)
    parser.add_argument("--max-per-user", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--eval-pairs", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--keep-uncertain",
        type=float,
        help="train on this share of the pairwise training rows the base model is least sure of (sft, dpo)",
    )
    parser.add_argument(
        "--filter-pool", type=int, default=320, help="random training pairs scored for --keep-uncertain"
    )
    args = parser.parse_args()
    if args.keep_uncertain is not None and {LAYOUT[o] for o in args.objective} != {"pairwise"}:
        parser.error("--keep-uncertain filters pairwise rows: use it with --objective sft / dpo only")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    movielens = movielens_data(args) if set(args.objective) - {"cut"} else None
    amazon = amazon_data(args) if "cut" in args.objective else None
    for data in (movielens, amazon):
        for name, prefs in (data or {}).items():
            print(name, prefs.describe())
    path = RESULTS_DIR / f"{AREA}.json"
    records = json.loads(path.read_text()) if path.exists() else []
    for objective in args.objective:
        record = run_objective(objective, amazon if objective == "cut" else movielens, args)
        print(json.dumps(record, indent=1))
        key = (record["model"], record["dataset"], record["protocol"], record["threads"])
        records = [r for r in records if (r["model"], r["dataset"], r["protocol"], r["threads"]) != key]
        records.append(record)
        write_results(
            AREA, records, title="Preference alignment on CPU (SmolLM2-135M-Instruct + LoRA)", notes=NOTES
        )


NOTES = """
Held-out users' pairwise rows (chosen: a movie rated >= 4 at the anchor; rejected: a shown movie the
user never rated). likelihood accuracy: share of pairs with log π(chosen) > log π(rejected), base and
tuned; log-ratio accuracy: share with log π/π_base higher for the chosen movie (base = 0.5 by
definition). Same steps, batch and learning rate for every objective; CUT trains and is evaluated on
Amazon Fashion 2018 (reviews as judgments). Written by `python -m benchmarks.alignment`.
"""

if __name__ == "__main__":
    main()
