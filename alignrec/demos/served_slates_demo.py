"""Part of demo step "serving": the loop's last link on a running service. Simulated users with the
demo log's planted tastes are shown the service's slates over HTTP for a few rounds (the A/B
harness, ``HTTPPolicy``), their impressions and clicks go to ``POST /v1/feedback`` with a slate id
(``HTTPFeedback``), and the slates the service showed, with what was clicked, become user-simulator
exposures (``simulators.users.feedback_exposures``) on which simulators are measured. The same with
the CLI: ``alignrec simulator evaluate --data LOG --feedback-db URL -s random -s bpr``.
"""

from __future__ import annotations

import httpx
import numpy as np
from rich.console import Console

from recsys.data import Interactions
from recsys.models.popularity import MostPopular
from recsys.recommender import Recommender
from simulators.abtest.environment import ClickModel, run_abtest
from simulators.abtest.policies import HTTPFeedback, HTTPPolicy
from simulators.users import PopularityUser, RandomUser, RecommenderUser, evaluate_simulator
from simulators.users.feedback_exposures import read_store_events, served_exposures


def served_slates(
    http: httpx.Client,
    log: Interactions,
    truth: dict,
    served: Recommender,
    feedback_url: str,
    console: Console,
    rounds: int = 3,
    k: int = 5,
) -> dict[str, dict]:
    """Play ``rounds`` rounds of ``k``-item slates from the service at ``http`` for every user of
    ``served``, post the feedback, and evaluate random, popularity and ``served``'s own scores on the
    served slates (history and popularity from ``log``); returns their metrics by name."""
    world = ClickModel.calibrated(truth["user_factors"] @ truth["item_factors"].T, base_rate=0.05)
    policy = HTTPPolicy(http, served.user_ids, served.item_ids)
    # Two arms on the same service (an A/A test), so every user is served by it; each arm's feedback
    # is posted with slate ids "demo-slates:<round>:<user>".
    senders = [HTTPFeedback(http, served.user_ids, served.item_ids, arm, "demo-slates") for arm in (0, 1)]
    users, ids = np.arange(len(served.user_ids)), [str(u) for u in served.user_ids]
    options = {"rounds": rounds, "k": k, "patience": rounds, "seed": 2026, "salt": "demo"}
    arms = [policy, policy]
    run_abtest(arms, ["a", "b"], world, users, ids, len(served.item_ids), observers=senders, **options)
    exposures, report = served_exposures(read_store_events(feedback_url), log, n=k, history=10)
    console.print(
        f"Served slates in the feedback store: {report.slates} read, {report.kept} with a click kept as "
        f"user-simulator exposures (n = {report.n}; {report.several_clicks} with several clicks, the "
        "first shown taken)"
    )
    popular = Recommender(MostPopular(log), log.to_csr(), log.user_ids, log.item_ids)
    own = RecommenderUser(served, name="bpr (the served retriever)")
    simulators = [RandomUser(), PopularityUser(popular), own]
    results = {}
    for simulator in simulators:
        metrics = evaluate_simulator(simulator, exposures)
        results[simulator.name] = metrics
        rates = "/".join(f"{r:.2f}" for r in metrics["position_rates"])
        console.print(
            f"  {simulator.name}: accuracy {metrics['accuracy']:.3f}, sampled accuracy "
            f"{metrics['sampled_accuracy']:.3f}, choices by position {rates}"
        )
    return results
