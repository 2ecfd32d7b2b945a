"""Creator simulations (issue 13's creator benchmark): bounded- vs full-information creators under a
popularity and a personalised policy.

Run: ``python -m benchmarks.creators [--dataset lastfm|ml-100k|both] [--rounds 50] [--seeds 5]
[--features tags|text|both] [--lm-titles 64]`` (needs ../shared/data; writes
``benchmarks/results/creators.json`` and ``.md``, keeping the rows not rerun).

**Last.fm, creators inside A/B arms** (``simulators.abtest.creator_platform``): the 1,888 Last.fm
users with a tag taste (``read_lastfm``: 24 top tags as genres), hashed into two arms, 50 rounds,
slates of 10 with 2 fresh slots for new items. Arm "popularity" ranks by training listeners plus
clicks in the arm; arm "vbpr" by a VBPR (dim 32, content dim 16, 20 epochs on every listening event,
the artists' tag vectors as its item features) — new items join each arm's VBPR through
``Recommender.add_items`` and are scored from their tags. Each arm has its own 100 creators started
from the same seeded sample of artists with >= 5 listeners; one run with bounded-information
creators and one with full-information creators per seed, same seed and split (paired). Users
click by genre affinity (``GenreWorld``, base rate 0.05 at the median pair) and leave after 5
rounds without a click. Every new item gets a template title and description
(``simulators.abtest.item_text``). ``--features text``: the platform sees only text — the VBPR's
item features are all-MiniLM-L6-v2 vectors of "artist name. top 3 tags" (cached under
``.alignrec/cache/vectors``) and each new item joins through ``add_items`` with the vector of its
"title. description" — while users still click by the item's genre vector; same seeds and split as
the tags rows. ``--lm-titles N`` times the LM writer (SmolLM2-135M-Instruct, greedy, batched) on N
new items of the Last.fm creators against the template writer.

**MovieLens 100K, new items only** (``simulators.abtest.creators.run_creators``): the 943 ML-100K
users (genre taste of the movies they rated), 100 creators each owning a seeded tenth of the
catalog, 2 fresh slots ranked by clicks so far ("popularity") or genre similarity
("personalised"), a user clicks with sigmoid((taste . genre - 0.5) / 0.1).

Mean ± std over seeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.online import machine
from benchmarks.results_io import merge_results, write_results

TITLE = "Creators: retention and content diversity"
CHECKPOINTS = (10, 20, 30, 40, 50)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return round(float(np.mean(values)), 4), round(float(np.std(values)), 4)


def _new_item_ctr(history: dict[str, list]) -> float:
    return sum(history["new_clicks"]) / max(sum(history["new_impressions"]), 1)


def movielens(rounds: int, num_creators: int, seeds: int) -> list[dict]:
    from alignrec.settings import require_data
    from recsys.movie_catalog import read_ml100k_items
    from recsys.readers import read_movielens_100k
    from simulators.abtest.creators import CreatorConfig, initial_creators, run_creators

    log = read_movielens_100k(require_data("ml-100k/u.data.gz"))
    catalog = read_ml100k_items(require_data("ml-100k/u.item"), require_data("ml-100k/u.genre"))
    row = {int(m): k for k, m in enumerate(catalog.movie_ids)}
    genres = catalog.genre_matrix()[[row[int(m)] for m in log.item_ids]].astype(np.float64)  # (I, G)
    taste = np.zeros((log.num_users, genres.shape[1]))
    np.add.at(taste, log.users, genres[log.items])
    taste /= np.maximum(np.linalg.norm(taste, axis=1, keepdims=True), 1e-12)
    owner = np.random.default_rng(2026).integers(num_creators, size=log.num_items)
    topics = initial_creators(genres, owner, num_creators)
    records = []
    for policy in ("popularity", "personalised"):
        for full in (False, True):
            runs = [
                run_creators(
                    taste,
                    topics,
                    CreatorConfig(full_information=full),
                    policy=policy,
                    rounds=rounds,
                    seed=seed,
                )
                for seed in range(seeds)
            ]
            retention = _mean_std([r["active_creators"][-1] / num_creators for r in runs])
            success = _mean_std([r["cold_success"][-1] for r in runs])
            records.append(
                {
                    "model": f"{'full' if full else 'bounded'}-information creators, {policy} cold start",
                    "dataset": "ml-100k",
                    "protocol": f"{num_creators} creators, 943 users, {rounds} rounds, 2 fresh slots, "
                    f"{seeds} seeds",
                    "creator_retention": retention[0],
                    "creator_retention_std": retention[1],
                    "new_item_genre_entropy_last10": round(
                        float(np.mean([np.mean(r["genre_entropy"][-10:]) for r in runs])), 4
                    ),
                    "new_item_ctr": round(
                        float(
                            np.mean([sum(r["new_clicks"]) / max(sum(r["new_impressions"]), 1) for r in runs])
                        ),
                        4,
                    ),
                    "cold_item_success": success[0],
                    "cold_item_success_std": success[1],
                    "active_creators_round_15": round(
                        float(np.mean([r["active_creators"][14] for r in runs])), 4
                    ),
                    **machine(),
                }
            )
            print(records[-1], flush=True)
    return records


def artist_texts(world) -> list[str]:
    """Each Last.fm artist as text: its name and its top 3 tags."""
    from simulators.abtest.item_text import catalog_text, top_tags

    pairs = zip(world.names, world.tag_vectors, strict=True)
    return [catalog_text(name, top_tags(vector, world.tags, 3)) for name, vector in pairs]


def lastfm_runs(
    rounds: int, num_creators: int, seeds: int, epochs: int, fresh_slots: int, features_kind: str = "tags"
) -> tuple[dict[tuple[bool, str], list[dict]], int]:
    """Per (full information, arm name), one summary per seed (histories, CTR, user retention, the
    first new items' texts); and the number of users. ``features_kind``: what the VBPR sees of an
    item, "tags" (its tag vector) or "text" (MiniLM vectors of its text)."""
    import torch

    from alignrec.settings import home_dir, require_data
    from product.encoders.text import text_cache
    from recsys.models.vbpr import VBPR
    from recsys.recommender import Recommender
    from recsys.train import fit
    from simulators.abtest.creator_platform import CreatorArm, GenreWorld, run_creator_abtest
    from simulators.abtest.creators import CreatorConfig, Creators
    from simulators.abtest.item_text import minilm_encoder
    from simulators.abtest.lastfm import creator_topics, read_lastfm

    world = read_lastfm(require_data("lastfm-hetrec2011"))
    log = world.listens
    encoder = None
    if features_kind == "tags":
        features = [world.tag_vectors.astype(np.float32)]
    else:
        start = time.perf_counter()
        catalog = minilm_encoder(text_cache(home_dir() / "cache" / "vectors"))(artist_texts(world))
        features = [catalog]
        print(f"MiniLM: {len(catalog):,} artist texts in {time.perf_counter() - start:.1f} s", flush=True)
        encoder = minilm_encoder()  # new items: encoded once each, not cached
    listeners = np.bincount(log.items, minlength=log.num_items)
    torch.manual_seed(2026)
    model = VBPR(log.num_users, log.num_items, features, dim=32, content_dim=16, id_items=listeners > 0)
    start = time.perf_counter()
    fit(model, log, epochs=epochs, batch_size=1024, lr=0.005, num_negatives=4, progress=False)
    print(f"VBPR: {epochs} epochs in {time.perf_counter() - start:.1f} s", flush=True)
    recommender = Recommender(model, log.to_csr(), log.user_ids, log.item_ids, features=features)
    users = np.arange(log.num_users)
    runs: dict[tuple[bool, str], list[dict]] = {}
    for seed in range(seeds):
        rows, topics = creator_topics(world, num_creators, seed=seed)
        for full in (False, True):
            clicks = GenreWorld.calibrated(world.user_taste, world.tag_vectors, base_rate=0.05)
            config = CreatorConfig(full_information=full)
            arms = [
                CreatorArm(
                    name,
                    recommender,
                    clicks,
                    Creators(topics, config, np.random.default_rng([seed, a])),
                    ranking=ranking,
                    fresh_slots=fresh_slots,
                    seed=seed,
                    genre_names=world.tags,
                    creator_names=[world.names[r] for r in rows],
                    encoder=encoder,
                )
                for a, (name, ranking) in enumerate((("popularity", "popularity"), ("vbpr", "model")))
            ]
            start = time.perf_counter()
            result = run_creator_abtest(
                arms, users, list(world.user_ids), rounds=rounds, k=10, seed=seed, salt=f"creators-{seed}"
            )
            seconds = time.perf_counter() - start
            for a, arm in enumerate(arms):
                got, shown = result.user_totals(a)
                members = result.arms == a
                runs.setdefault((full, arm.name), []).append(
                    {
                        "history": arm.history,
                        "ctr": float(got.sum() / shown.sum()),
                        "user_retention": float((result.left_at[members] < 0).mean()),
                        "seconds": seconds,
                        "examples": arm.texts[:3],
                    }
                )
            print(
                f"seed {seed} full={full} features={features_kind}: {seconds:.1f} s;",
                {arm.name: round(arm.history["creator_retention"][-1], 3) for arm in arms},
                flush=True,
            )
    return runs, len(users)


def lastfm(
    rounds: int, num_creators: int, seeds: int, epochs: int, fresh_slots: int = 2, features_kind: str = "tags"
) -> tuple[list[dict], str, str]:
    """The records, a Markdown table of the trajectories (every 5 rounds, mean over seeds) and a
    few examples of new items' texts (seed 0, bounded information)."""
    runs, num_users = lastfm_runs(rounds, num_creators, seeds, epochs, fresh_slots, features_kind)
    protocol = (
        f"A/B arms popularity vs VBPR (dim 32, {epochs} epochs), {num_creators} creators per arm from "
        f"Last.fm artists, {num_users:,} users hashed into 2 arms, {rounds} rounds, k 10 with "
        f"{fresh_slots} fresh slots, genre-affinity clicks (base rate 0.05), {seeds} seeds"
    )
    if features_kind == "text":
        protocol += (
            "; item features: all-MiniLM-L6-v2 of 'artist name. top 3 tags', new items of their template "
            "'title. description'"
        )
    suffix = ", text features" if features_kind == "text" else ""
    records, lines = [], []
    shown_rounds = [r for r in range(5, rounds + 1, 5)]
    lines.append("| creators, policy | metric | " + " | ".join(f"r{r}" for r in shown_rounds) + " |")
    lines.append("|---|---|" + "---|" * len(shown_rounds))
    examples = [
        f"- {arm}: *{title}* — {description}"
        for (full, arm), summaries in runs.items()
        if not full
        for title, description in summaries[0]["examples"]
    ]
    for (full, arm), summaries in runs.items():
        name = f"{'full' if full else 'bounded'}-information creators, {arm} policy{suffix}"
        histories = [s["history"] for s in summaries]

        def per_round(key: str, histories=histories) -> np.ndarray:
            return np.mean([h[key] for h in histories], axis=0)  # (rounds,) mean over seeds

        retention = _mean_std([h["creator_retention"][-1] for h in histories])
        entropy = _mean_std([float(np.mean(h["genre_entropy"][-10:])) for h in histories])
        success = _mean_std([h["cold_success"][-1] for h in histories])
        new_ctr = [_new_item_ctr(h) for h in histories]
        checkpoints = [r for r in CHECKPOINTS if r <= rounds]
        records.append(
            {
                "model": name,
                "dataset": "lastfm-hetrec2011",
                "protocol": protocol,
                "creator_retention": retention[0],
                "creator_retention_std": retention[1],
                "retention_rounds_10_to_50": "/".join(
                    f"{per_round('creator_retention')[r - 1]:.2f}" for r in checkpoints
                ),
                "new_item_genre_entropy_last10": entropy[0],
                "new_item_genre_entropy_last10_std": entropy[1],
                "entropy_rounds_10_to_50": "/".join(
                    f"{per_round('genre_entropy')[r - 1]:.2f}" for r in checkpoints
                ),
                "new_item_share": round(float(per_round("new_item_share").mean()), 4),
                "new_item_ctr": round(float(np.mean(new_ctr)), 4),
                "cold_item_success": success[0],
                "cold_item_success_std": success[1],
                "ctr": round(float(np.mean([s["ctr"] for s in summaries])), 4),
                "user_retention": round(float(np.mean([s["user_retention"] for s in summaries])), 4),
                "seconds_per_run": round(float(np.mean([s["seconds"] for s in summaries])), 1),
                **machine(),
            }
        )
        print(records[-1], flush=True)
        for key in ("creator_retention", "genre_entropy"):
            values = per_round(key)
            cells = " | ".join(f"{values[r - 1]:.2f}" for r in shown_rounds)
            lines.append(f"| {name} | {key} | {cells} |")
    return records, "\n".join(lines), "\n".join(examples)


def lm_title_speed(count: int, num_creators: int = 100, seed: int = 0) -> tuple[dict, str]:
    """Titles per second of the LM writer (SmolLM2-135M-Instruct) and of the template writer on
    ``count`` new items of seeded Last.fm creators (genres drawn from their topics); a record and a
    few of the LM's titles."""
    from alignrec.settings import home_dir, require_data
    from simulators.abtest.item_text import LMWriter, TemplateWriter, top_tags
    from simulators.abtest.lastfm import creator_topics, read_lastfm
    from simulators.alignment.base_models import load_base_model

    world = read_lastfm(require_data("lastfm-hetrec2011"))
    rows, topics = creator_topics(world, num_creators, seed=seed)
    rng = np.random.default_rng(seed)
    owners = rng.integers(num_creators, size=count)
    genre = [int(rng.choice(len(world.tags), p=topics[c])) for c in owners]
    args = (
        [world.tags[g] for g in genre],
        [world.names[rows[c]] for c in owners],
        [top_tags(topics[c], world.tags, 2, skip=g) for c, g in zip(owners, genre, strict=True)],
    )
    start = time.perf_counter()
    TemplateWriter().write(*args, np.random.default_rng(seed))
    template_seconds = time.perf_counter() - start
    start = time.perf_counter()
    model, tokenizer, _ = load_base_model("smollm2", home_dir() / "models")
    load_seconds = time.perf_counter() - start
    writer = LMWriter(model, tokenizer)
    start = time.perf_counter()
    texts = writer.write(*args, np.random.default_rng(seed))
    lm_seconds = time.perf_counter() - start
    record = {
        "model": "LM titles (SmolLM2-135M-Instruct) vs template titles",
        "dataset": "lastfm-hetrec2011",
        "protocol": f"{count} new items of {num_creators} seeded Last.fm creators; LM: greedy, batch "
        f"{writer.batch_size}, at most {writer.max_new_tokens} new tokens, 1 torch thread",
        "lm_titles_per_second": round(count / lm_seconds, 2),
        "template_items_per_second": round(count / template_seconds, 1),
        "lm_seconds": round(lm_seconds, 1),
        "lm_load_seconds": round(load_seconds, 1),
        **machine(),
    }
    print(record, flush=True)
    examples = "\n".join(
        f"- {a} ({g}): *{title}*" for (title, _), g, a in list(zip(texts, args[0], args[1], strict=True))[:8]
    )
    return record, examples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=("lastfm", "ml-100k", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--creators", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20, help="VBPR training epochs (Last.fm)")
    parser.add_argument("--fresh-slots", type=int, default=2, help="slots kept for new items (Last.fm)")
    parser.add_argument(
        "--features",
        choices=("tags", "text", "both"),
        default="both",
        help="what the VBPR sees of an item (Last.fm): its tag vector, MiniLM vectors of its text, or both",
    )
    parser.add_argument(
        "--lm-titles", type=int, default=0, help="time the LM title writer on this many items (0: skip)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    notes = (
        "Creators see only feedback on their own items (bounded) or also the platform's click share "
        "per genre (full). `creator_retention`: share of creators still active after the last round "
        "(`retention_rounds_10_to_50`: at rounds 10, 20, ..., mean over seeds); "
        "`new_item_genre_entropy_last10`: entropy (nats) of the genres of the items made in each of "
        "the last 10 rounds, averaged; `cold_item_success`: share of new items with at least one click; "
        "`new_item_share` (Last.fm): share of impressions that went to new items; `ctr`, "
        "`user_retention`: the arm's users. Rerun: `python -m benchmarks.creators`."
    )
    parts = []
    if args.dataset in ("ml-100k", "both"):
        write_results("creators_ml100k", movielens(args.rounds, args.creators, args.seeds))
        parts.append("creators_ml100k")
    if args.dataset in ("lastfm", "both"):
        kinds = ("tags", "text") if args.features == "both" else (args.features,)
        for kind in kinds:
            records, trajectories, examples = lastfm(
                args.rounds, args.creators, args.seeds, args.epochs, args.fresh_slots, kind
            )
            write_results(f"creators_lastfm_{kind}", records)
            parts.append(f"creators_lastfm_{kind}")
            notes += (
                f"\n\nLast.fm trajectories, item features {kind} ({args.fresh_slots} fresh slots, "
                f"{args.seeds} seeds, mean over seeds):\n\n{trajectories}"
            )
            if kind == kinds[-1]:  # the texts do not depend on what the VBPR sees
                notes += (
                    f"\n\nFirst new items of seed 0 (bounded information, template writer):\n\n{examples}"
                )
    if args.lm_titles:
        record, examples = lm_title_speed(args.lm_titles)
        write_results("creators_lm_titles", [record])
        parts.append("creators_lm_titles")
        notes += f"\n\nLM titles (the first 8 of {args.lm_titles}):\n\n{examples}"
    print(merge_results("creators", parts, title=TITLE, notes=notes))


if __name__ == "__main__":
    main()
