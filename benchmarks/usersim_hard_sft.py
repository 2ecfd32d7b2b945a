"""An LM user simulator tuned on hard-negative lists, evaluated on protocol 2 (issue 12).

The SFT adapter of ``benchmarks.usersim_objectives`` was trained on popularity-sampled lists and falls
below the zero-shot LM on protocol 2's hard lists. Here the training lists are built the way protocol 2
builds its evaluation lists (``simulators.hard_preferences``):

1. ML-100K split as ``benchmarks.usersim`` splits it (300 held-out users, seed 2026; their last events
   removed) and its BPR-MF (``fit_baselines``);
2. anchors: up to 2 liked events (rating >= 4) per user of the training part with >= 5 earlier events
   (seed 2026); each one exposure from ``hard_exposures`` over the training part (matched random list,
   BPR's top 50 for the user, genre-closest items; n = 5, 5 history lines, seed 7), written as pairwise
   data to ``OUT/usersim-hard-data/pairwise``;
3. ``alignrec align train --objective sft`` for ``--sft-steps`` (the budget of
   ``benchmarks.usersim_objectives``: batch 4, lr 2e-4, LoRA r 8, one thread) to ``OUT/usersim-hard-sft``;
4. ``python -m benchmarks.usersim --protocols 2 --lm-protocol2 --p2-variant "short list"`` with that
   adapter on the held-out users' protocol-2 lists (matched and unmatched random list), rows to
   ``benchmarks/results/AREA.{json,md}`` beside every protocol-2 baseline of the same lists.

    python -m benchmarks.usersim_hard_sft                 # ~15 min on one thread
    python -m benchmarks.usersim_hard_sft --sft-steps 1 --lm-lists 5 --area usersim_smoke --out /tmp/h
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.usersim_objectives import TRAIN_BUDGET, run


def simulator_prompt(variant: str, titles: dict, personas: dict):
    """The prompt of the LM user simulator with prompt ``variant`` (``simulators.users.lm.prompt_parts``)."""
    from benchmarks.usersim import LM_VARIANTS
    from simulators.users.lm import prompt_parts

    def prompt(exposure) -> str:
        return "".join(prompt_parts(exposure, titles, personas, **LM_VARIANTS[variant]))

    return prompt


def build_data(folder: Path, variant: str) -> str:
    """Steps 1-2: the hard-negative pairwise data in ``folder``, prompts of ``variant``; returns its
    description."""
    from benchmarks.usersim import fit_baselines, lm_texts, movie_meta, read_corpus
    from simulators.hard_preferences import build_hard_preferences, training_anchors
    from simulators.users import hard_exposures

    corpus = read_corpus("ml-100k")
    held, bpr, _, _, _ = fit_baselines(corpus.log, users=300, epochs=100, lr=5e-3)
    meta, _, _ = movie_meta(corpus, held)
    anchors = training_anchors(held.train, min_history=5, like=4.0, max_per_user=2, seed=2026)
    collaborative, _ = bpr.recommend_batch(anchors.users, 50)
    exposures = hard_exposures(held.train, anchors, meta, collaborative, n=5, history=5, match=True, seed=7)
    titles, personas = lm_texts(corpus)
    prompt = simulator_prompt(variant, titles, personas)
    data = build_hard_preferences(exposures, titles, personas, eval_fraction=0.05, seed=2026, prompt=prompt)
    data.save(folder)
    return data.describe()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sft-steps", type=int, default=40)
    parser.add_argument("--lm-lists", type=int, default=300, help="held-out protocol-2 lists the LM decides")
    parser.add_argument(
        "--variant", default="short list", help="the LM simulator's prompt (benchmarks.usersim.LM_VARIANTS)"
    )
    parser.add_argument("--area", default="usersim_hard")
    parser.add_argument("--out", type=Path, default=Path(".alignrec/align"))
    args = parser.parse_args()

    suffix = "" if args.variant == "short list" else "-" + args.variant.replace(" ", "-")
    data = args.out / f"usersim-hard-data{suffix}" / "pairwise"
    if not (data / "report.json").exists():
        print(build_data(data, args.variant), flush=True)
    folder = args.out / f"usersim-hard-sft{suffix}"
    alignrec = [str(Path(sys.executable).with_name("alignrec"))]
    if not (folder / "final" / "adapter_config.json").exists():
        train = ["align", "train", "--objective", "sft", "--data", str(data), "--out", str(folder)]
        run([*alignrec, *train, "--max-steps", str(args.sft_steps), *TRAIN_BUDGET])
    evaluate = ["--protocols", "2", "--lm-protocol2", "--p2-variant", args.variant, "--variants", ""]
    evaluate += ["--n10-variants", "", "--distil-from", "", "--speed-lists", "0", "--rating-lm-users", "0"]
    evaluate += ["--calibration-lists", "0", "--rotation-lists", "0", "--lm-lists", str(args.lm_lists)]
    run(
        [
            sys.executable,
            "-m",
            "benchmarks.usersim",
            "--adapter",
            str(folder / "final"),
            *evaluate,
            "--area",
            args.area,
        ]
    )


if __name__ == "__main__":
    main()
