"""Demo step "abtest": a simulated A/B test of two ranking policies, and an A/A test beside it.

Users with planted tastes (``recsys.synthetic``) are hashed into arms; each round every active user
gets a slate from their arm's policy (MostPopular or a BPR-MF trained on the log) and clicks under
the planted-taste click model; a user who goes 5 rounds without a click leaves. The report gives
user-level CTR with delta-method intervals, the fixed-horizon and always-valid sequential tests, and
is written as Markdown, HTML (with plots) and JSON; the same with the CLI is ``alignrec simulate
abtest --config ...`` over a run folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from recsys.models.bpr import BPR
from recsys.models.popularity import MostPopular
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.abtest.analysis import experiment_report
from simulators.abtest.environment import ClickModel, run_abtest
from simulators.abtest.policies import RecommenderPolicy
from simulators.abtest.report import verdicts, write_report


def run(out: Path, console: Console) -> None:
    torch.set_num_threads(1)  # tiny models: a second thread only contends
    log, truth = make_interactions(num_users=1000, num_items=400, events_per_user=15, seed=2026)
    torch.manual_seed(2026)
    model = BPR(log.num_users, log.num_items, dim=32)
    fit(model, log, epochs=25, lr=0.01, batch_size=1024, num_negatives=4, progress=False)
    bpr = Recommender(model, log.to_csr(), log.user_ids, log.item_ids)
    pop = Recommender(MostPopular(log), log.to_csr(), log.user_ids, log.item_ids)
    world = ClickModel.calibrated(truth["user_factors"] @ truth["item_factors"].T, base_rate=0.05)
    users, ids = np.arange(log.num_users), [str(u) for u in log.user_ids]
    settings = {"rounds": 20, "k": 10, "patience": 5, "seed": 2026}
    console.print(
        f"{log.num_users} users with planted tastes, {log.num_items} items, {settings['rounds']} rounds "
        f"of {settings['k']}-item slates; clicks from the planted tastes (5% base rate)"
    )
    tests = [([("pop", pop), ("bpr", bpr)], "ab"), ([("bpr", bpr), ("bpr", bpr)], "aa")]
    for arms, salt in tests:
        names = [name if arms[0][0] != arms[1][0] else f"{name}#{i}" for i, (name, _) in enumerate(arms)]
        policies = [RecommenderPolicy(recommender) for _, recommender in arms]
        result = run_abtest(policies, names, world, users, ids, log.num_items, salt=salt, **settings)
        numbers = experiment_report(result, {**settings, "arms": names, "salt": salt, "world": "planted"})
        title = "A/A" if names[0].startswith("bpr#") else "A/B"
        for name, values in numbers["arms"].items():
            console.print(
                f"{title} {name}: {values['users']} users, CTR {values['ctr']:.4f} ± {values['ctr_se']:.4f}, "
                f"retention {values['retention']:.2f}, coverage {values['coverage']:.2f}"
            )
        for sentence in verdicts(numbers):
            console.print(f"  {sentence}")
        folder = out / ("aa" if title == "A/A" else "ab")
        files = write_report(numbers, folder)
        console.print(f"  report: {files['report.html']}")
