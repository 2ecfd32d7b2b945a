"""Demo step "creators": creators inside the arms of an A/B test, their new items written as text and
encoded by the product text encoder.

A generated genre world (users with genre tastes, artists with genre mixes, listening events that
follow taste): each arm has its own 20 creators started from artists. Every round a creator may
make an item in a genre it explores or exploits; the template writer gives it a title and a
description, MiniLM (``product.encoders.text``) turns that text into the vector the arm's VBPR sees
through ``Recommender.add_items``, while users click by the item's genre. Arm "popularity" ranks by
clicks so far, arm "vbpr" by the model; creators leave when their last 5 items got no click. The
same with real Last.fm artists is ``alignrec simulate creators --features text``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from recsys.models.vbpr import VBPR
from recsys.recommender import Recommender
from recsys.synthetic import genre_interactions
from recsys.train import fit
from simulators.abtest.creator_platform import CreatorArm, GenreWorld, run_creator_abtest
from simulators.abtest.creators import CreatorConfig, Creators
from simulators.abtest.item_text import catalog_text, minilm_encoder, top_tags

GENRES = ["rock", "jazz", "hip hop", "electronic", "folk", "classical"]


def run(out: Path, console: Console) -> None:
    torch.set_num_threads(1)
    log, taste, genres = genre_interactions(400, 120, len(GENRES), 8, seed=2026)
    encoder = minilm_encoder()
    names = [f"artist {i}" for i in range(log.num_items)]
    features = [
        encoder([catalog_text(n, top_tags(g, GENRES, 2)) for n, g in zip(names, genres, strict=True)])
    ]
    torch.manual_seed(2026)
    model = VBPR(log.num_users, log.num_items, features, dim=16, content_dim=8)
    fit(model, log, epochs=10, batch_size=256, lr=0.01, num_negatives=4, progress=False)
    recommender = Recommender(model, log.to_csr(), log.user_ids, log.item_ids, features=features)
    world = GenreWorld.calibrated(taste, genres, base_rate=0.05)
    makers = np.random.default_rng(2026).choice(log.num_items, size=20, replace=False)
    topics = 0.9 * genres[makers] + 0.1 / len(GENRES)
    arms = [
        CreatorArm(
            name,
            recommender,
            world,
            Creators(topics, CreatorConfig(), np.random.default_rng([2026, a])),
            ranking=ranking,
            seed=2026,
            genre_names=GENRES,
            creator_names=[names[m] for m in makers],
            encoder=encoder,
        )
        for a, (name, ranking) in enumerate((("popularity", "popularity"), ("vbpr", "model")))
    ]
    users = np.arange(log.num_users)
    console.print(
        f"{log.num_users} users, {log.num_items} artists in {len(GENRES)} genres; 20 creators per arm, "
        "30 rounds of 10-item slates with 2 slots for new items; new items encoded by MiniLM"
    )
    run_creator_abtest(arms, users, [str(u) for u in users], rounds=30, k=10, seed=2026)
    for arm in arms:
        active = arm.history["active_creators"]
        history = arm.history
        console.print(
            f"{arm.name}: creators active {active[0]} -> {active[-1]}, "
            f"{arm.creators.num_items} new items, {history['cold_success'][-1]:.0%} of them ever clicked"
        )
        title, description = arm.texts[-1]
        console.print(f"  latest item: {title!r} — {description}")
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"{arm.name}\t{t}\t{d}" for arm in arms for t, d in arm.texts]
    (out / "new_items.tsv").write_text(
        "arm\ttitle\tdescription\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    console.print(f"  every new item's text: {out / 'new_items.tsv'}")
