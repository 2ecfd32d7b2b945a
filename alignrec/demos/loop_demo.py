"""Demo step "loop": the served model's logged feedback tunes a user simulator.

The "serving" step leaves a feedback store: the slates the service showed its (simulated) users over
a few rounds and what they clicked. Here those slates become DPO preference pairs (a click chosen over
an item shown above it and passed over: ``simulators.slate_preferences``, ``alignrec align build
--feedback-db``), SmolLM2-135M-Instruct is tuned on them for a few LoRA steps (``alignrec align
train``), and the untuned and tuned LM simulators, with the served BPR as a baseline, are measured on
the first served slates of users held out of the preference data (accuracy: the clicked item is
the simulator's choice among the slate's items; the LMs int8 on the CPU). The tuned LM is then
distilled into the fast simulator (``alignrec simulator distil``), and popularity and the served BPR
meet in an A/B test whose clicks that simulator draws (``alignrec simulate abtest
--user-simulator``). The demo's items are synthetic ("item 17", no titles) and the budget is two CPU
steps, so the figures show the loop running, not a good simulator; the CLI takes the same steps on a
real log (docs/alignment.md, docs/simulation.md).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import torch
from rich.console import Console

STEPS = 2  # DPO steps: ~15-30 s each on 2 CPU cores (prompt + 5 listed items, ~300 tokens)
SLATES = 60  # held-out served slates each simulator decides (int8 LM: ~1-2 s each with the list)
HISTORY = 5  # history events in a prompt (short prompts: fast steps)
BASE_MODEL = "smollm2"  # the LM tuned and evaluated (a local folder works too)
INT8 = True  # evaluate the LMs int8-quantised (2.4x faster on a CPU at equal accuracy)
DISTIL_USERS = 40  # users whose lists the tuned LM labels for the distilled simulator (one list each)
AB_ROUNDS = 5  # rounds of the A/B test in the distilled simulator's world


def run(out: Path, console: Console) -> None:
    store = out.parent / "serving" / "feedback.db"
    if not store.is_file():
        console.print(f"[yellow]no feedback store at {store}: run the serving step first[/yellow]")
        return
    threads = torch.get_num_threads()
    try:
        _run(out, store, console)
    finally:
        torch.set_num_threads(threads)


def _run(out: Path, store: Path, console: Console) -> None:
    from alignrec.cli import app
    from alignrec.demos.serving_demo import demo_data

    out.mkdir(parents=True, exist_ok=True)
    log = demo_data()[1].train  # the serving step's training log: histories and the catalog
    base = out / "base_log.csv"
    log.to_frame().to_csv(base, index=False)
    url = f"sqlite:///{store.resolve()}"
    prefs, tuned = out / "prefs", out / "dpo"
    build = ["align", "build", "--data", str(base), "--feedback-db", url, "--kind", "pairwise",
             "--history", str(HISTORY), "--passed-over", "above", "--eval-fraction", "0.2",
             "--out", str(prefs)]  # fmt: skip
    train = ["align", "train", "--objective", "dpo", "--data", str(prefs), "--out", str(tuned),
             "--max-steps", str(STEPS), "--batch-size", "2", "--eval-examples", "0", "--threads", "2",
             "--base-model", BASE_MODEL, "--no-track"]  # fmt: skip
    for args in (build, train):
        console.print(f"$ alignrec {shlex.join(args)}")
        app(args, standalone_mode=False)
    results = held_out_accuracy(log, url, prefs, tuned / "final", store.parent)
    console.print(f"On the served slates of the {results.pop('users')} users held out of the pairs:")
    for name, metrics in results.items():
        console.print(
            f"  {name}: accuracy {metrics['accuracy']:.3f}, sampled accuracy "
            f"{metrics['sampled_accuracy']:.3f} ({metrics['lists']} slates)"
        )
    distilled = out / "distilled"
    distil = ["simulator", "distil", "--data", str(base), "--base-model", BASE_MODEL,
              "--adapter", str(tuned / "final"), "--prompt-history", str(HISTORY), "--num-users", "20",
              "--train-users", str(DISTIL_USERS), "--lists-per-user", "1", "--epochs", "10", "--no-text",
              "--out", str(distilled)]  # fmt: skip
    console.print(f"$ alignrec {shlex.join(distil)}")
    app(distil, standalone_mode=False)
    ab_in_simulated_world(log, distilled, store.parent, console)


def ab_in_simulated_world(log, distilled: Path, serving: Path, console: Console) -> None:
    """Popularity vs the served BPR, the clicks drawn from the distilled tuned simulator (what
    ``alignrec simulate abtest --user-simulator DIR`` does with a run's models)."""
    import numpy as np

    from recsys.experiment import RECOMMENDER_DIR
    from recsys.models.popularity import MostPopular
    from recsys.recommender import Recommender
    from simulators.abtest.analysis import experiment_report
    from simulators.abtest.environment import run_abtest
    from simulators.abtest.policies import RecommenderPolicy
    from simulators.abtest.report import verdicts
    from simulators.abtest.simulated_users import SimulatorClickModel
    from simulators.users.experiment import load_distilled_folder
    from simulators.users.exposures import log_histories

    bpr = Recommender.load(serving / "bpr" / RECOMMENDER_DIR)
    pop = Recommender(MostPopular(log), log.to_csr(), log.user_ids, log.item_ids)
    world = SimulatorClickModel(
        load_distilled_folder(distilled), log.user_ids, log.item_ids, log_histories(log)
    )
    settings = {"rounds": AB_ROUNDS, "k": 5, "patience": AB_ROUNDS, "seed": 2026}
    users, ids = np.arange(log.num_users), [str(u) for u in log.user_ids]
    policies = [RecommenderPolicy(pop), RecommenderPolicy(bpr)]
    result = run_abtest(policies, ["pop", "bpr"], world, users, ids, log.num_items, salt="loop", **settings)
    numbers = experiment_report(
        result, {**settings, "arms": ["pop", "bpr"], "salt": "loop", "world": "simulator"}
    )
    console.print(
        f"A/B in the distilled tuned simulator's world ({log.num_users} users, {AB_ROUNDS} rounds of 5; "
        f"{world.decisions} simulated decisions at {world.decisions_per_second:,.0f}/s):"
    )
    for name, values in numbers["arms"].items():
        console.print(f"  {name}: CTR {values['ctr']:.4f} ± {values['ctr_se']:.4f}")
    for sentence in verdicts(numbers):
        console.print(f"  {sentence}")


def held_out_accuracy(log, url: str, prefs: Path, adapter: Path, serving: Path) -> dict:
    """Untuned LM, tuned LM and the served BPR (``serving``'s) on the served slates of the preference
    data's eval users."""
    from alignrec.settings import home_dir
    from recsys.experiment import RECOMMENDER_DIR
    from recsys.recommender import Recommender
    from simulators.preference_data import default_item_texts, load_preferences
    from simulators.users import RecommenderUser, evaluate_simulator
    from simulators.users.feedback_exposures import read_store_events, served_exposures
    from simulators.users.lm import LMUser, load_lm

    held = {str(u) for u in load_preferences(prefs).eval["user"]}
    exposures, _ = served_exposures(read_store_events(url), log, history=HISTORY)
    lists = [e for e in exposures if str(e.user) in held][:SLATES]
    texts = dict(zip([str(i) for i in log.item_ids], default_item_texts(log), strict=True))
    torch.set_num_threads(1)  # scoring: one thread is as fast on 2 cores
    served = Recommender.load(serving / "bpr" / RECOMMENDER_DIR)
    results: dict = {"users": len(held)}
    results["bpr (the served model)"] = evaluate_simulator(RecommenderUser(served), lists)
    for name, folder in (("lm untuned", None), ("lm + dpo on the served slates", adapter)):
        model, tokenizer = load_lm(BASE_MODEL, home_dir() / "models", folder, int8=INT8)
        user = LMUser(model, tokenizer, texts, history=HISTORY, name=name)
        results[name] = evaluate_simulator(user, lists)
    return results
