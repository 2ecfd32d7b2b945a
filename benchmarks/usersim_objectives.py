"""Tuned user simulators on ML-100K: SFT, then DPO, KTO, BCO and LiPO-λ each from the SFT adapter,
every one evaluated as a user simulator on the same held-out lists (issue 12's objectives table).

Steps (each skipped when its output exists, so an interrupted run continues):
1. the training log without the 300 held-out users' targets (``simulators.users.heldout_split``,
   seed 2026, as ``benchmarks.usersim``) written to ``OUT/train_log.csv``;
2. ``alignrec align build`` of the pairwise, binary and listwise layouts from it (short-list prompt:
   5 history lines, 5 listed movies, at most 2 anchors per user, 5% of users held out);
3. ``alignrec align train``: SFT for ``--sft-steps``, then each objective for ``--steps`` from
   ``OUT/usersim-sft/final`` (``--init-adapter``), batch 4, lr 2e-4, LoRA r 8, one thread, no
   evaluation by the trainer (``--eval-examples 0``);
4. ``python -m benchmarks.usersim --area AREA --adapter RUN/final`` on the first ``--lists``
   protocol-1 lists with the short-list prompt (plus position offsets fitted on
   ``--calibration-lists`` training lists).

    python -m benchmarks.usersim_objectives    # ~1.5 h on one thread (sum of the parts measured)
    python -m benchmarks.usersim_objectives --objectives sft,dpo --sft-steps 1 --steps 1 --lists 5 \\
        --calibration-lists 5 --area usersim_smoke --out /tmp/objectives   # a quick check

Rows go to ``benchmarks/results/AREA.{json,md}`` (default ``usersim_objectives``), named
``lm smollm2 adapter usersim-<objective> short list``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

TRAIN_BUDGET = ["--batch-size", "4", "--learning-rate", "2e-4", "--lora-r", "8", "--threads", "1"]
TRAIN_BUDGET += ["--no-track", "--eval-examples", "0", "--set", "max_length=256"]
TRAIN_BUDGET += ["--set", "disable_tqdm=true"]
LAYOUT = {"sft": "pairwise", "dpo": "pairwise", "kto": "binary", "bco": "binary", "lipo": "listwise"}


def run(command: list[str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def training_log(out: Path) -> Path:
    """ML-100K without the held-out targets, as ``alignrec align build`` reads it."""
    from alignrec.settings import require_data
    from recsys.readers import read_movielens_100k
    from simulators.users import heldout_split

    path = out / "train_log.csv"
    if not path.exists():
        held = heldout_split(read_movielens_100k(require_data("ml-100k/u.data.gz")), 300, 11, 2026)
        out.mkdir(parents=True, exist_ok=True)
        held.train.to_frame().to_csv(path, index=False)
    return path


def main() -> None:
    from alignrec.settings import require_data

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objectives", default="sft,dpo,kto,bco,lipo", help="sft first; others from it")
    parser.add_argument("--sft-steps", type=int, default=40)
    parser.add_argument("--steps", type=int, default=20, help="steps of each objective after SFT")
    parser.add_argument("--lists", type=int, default=150, help="held-out n = 5 lists each simulator decides")
    parser.add_argument("--calibration-lists", type=int, default=150)
    parser.add_argument("--area", default="usersim_objectives")
    parser.add_argument("--out", type=Path, default=Path(".alignrec/align"))
    args = parser.parse_args()
    objectives = args.objectives.split(",")
    if objectives[0] != "sft" or set(objectives) - set(LAYOUT):
        parser.error(f"--objectives: sft first, then any of {', '.join(LAYOUT)}")

    log = training_log(args.out / "usersim-data")
    alignrec = [str(Path(sys.executable).with_name("alignrec"))]
    people = ["--items", str(require_data("ml-100k/u.item")), "--users", str(require_data("ml-100k/u.user"))]
    layout = ["--history", "5", "--list-size", "5", "--max-per-user", "2", "--eval-fraction", "0.05"]
    for kind in sorted({LAYOUT[o] for o in objectives}):
        folder = args.out / "usersim-data" / kind
        if not (folder / "report.json").exists():
            build = ["align", "build", "--data", str(log), "--out", str(folder), "--kind", kind]
            run([*alignrec, *build, *people, *layout])
    sft = args.out / "usersim-sft" / "final"
    budget = [*TRAIN_BUDGET, "--set", "save_steps=100"]
    evaluate = ["--protocols", "1", "--variants", "short list", "--n10-variants", "", "--distil-from", ""]
    evaluate += ["--speed-lists", "0", "--rating-lm-users", "0", "--lm-lists", str(args.lists)]
    evaluate += ["--calibration-lists", str(args.calibration_lists), "--area", args.area]
    for objective in objectives:
        folder = args.out / f"usersim-{objective}"
        if not (folder / "final" / "adapter_config.json").exists():
            steps = args.sft_steps if objective == "sft" else args.steps
            start = [] if objective == "sft" else ["--init-adapter", str(sft)]
            data = args.out / "usersim-data" / LAYOUT[objective]
            train = ["align", "train", "--objective", objective, "--data", str(data), "--out", str(folder)]
            run([*alignrec, *train, "--max-steps", str(steps), *budget, *start])
        adapter = ["--adapter", str(folder / "final")]
        run([sys.executable, "-m", "benchmarks.usersim", *adapter, *evaluate])


if __name__ == "__main__":
    main()
