"""Creators inside the arms of an A/B test: each arm's own creators make items that join that arm's
catalog through ``Recommender.add_items``, so the arm's policy faces a real cold-start stream.

Design (a creator-side split): every arm holds its own copy of the creator population, started
from the same profiles, and its own content-model ``Recommender`` (VBPR, content CML or CM³, whose
item features are genre/tag vectors, or text vectors: below). Users are split into arms by
``run_abtest``; creators of an arm are seen only by that arm's users and respond only to that arm's
platform, so two arms' creator populations drift apart as their platforms treat them differently.
A creator sees the clicks and exposures of its own items (bounded information); with
``full_information`` it also sees the arm's click-through rate per genre over everything shown (the
platform's view of what its users want). Creators run in one process: they learn from all of an
arm's users every round, so ``run_abtest_on_ray`` refuses them.

- **The world** (:class:`GenreWorld`, the click model): a user clicks a shown item with
  sigmoid((cos(taste_u, f_i) - bias) / temperature), f_i the item's tag vector — the same rule for
  catalog items and for items creators add during the run (``add_items``).
- **An arm** (:class:`CreatorArm`) is a policy and an observer. Its slates: ``k - fresh_slots``
  items ranked over its whole catalog (new items included), then ``fresh_slots`` best new items
  not already on the slate (a platform that reserves room for new content). ``ranking="model"``
  ranks by the recommender's scores (a content model scores a new item from its tags);
  ``ranking="popularity"`` by listeners in training plus clicks in this arm so far (a new item
  starts at 0; ties at random).
- **A new item** is made in the genre its creator chose: tag vector ``(1 - style) * e_genre +
  style * topics_creator`` (a creator keeps some of its own mix) — what the world clicks by — and a
  title and a one-sentence description from the arm's writer (``simulators.abtest.item_text``: the
  seeded template by default, or an instruct LM), kept in ``CreatorArm.texts``.
- **What the policy sees of an item** (its recommender's item features): without an encoder, the
  genre vector itself (an idealised platform that knows every item's true genres); with an
  ``encoder`` (texts -> vectors, e.g. all-MiniLM-L6-v2 via ``item_text.minilm_encoder``), only text:
  the recommender is then trained on the encoder's vectors of the catalog's text (e.g. a Last.fm
  artist's name and top tags) and each new item enters through ``add_items`` with the encoder's
  vector of its title and description, as on a real platform, while users still click by genre.
- **Each round**, after the arm's users acted (``on_round``): the arm's creators take in the
  feedback on their items (``observe``), metrics are recorded, creators may leave (CreAgent's rule), and the
  active ones produce the items shown from the next round on. The first items are made when the
  arm is built.

Per round and arm (``CreatorArm.history``): active creators, creator retention, new items (made for
this round), their genre entropy, impressions, new-item impressions and share of impressions, new
items clicked, cold-item success (share of the arm's new items so far with at least one click).
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import torch

from simulators.abtest.creators import Creators, genre_entropy
from simulators.abtest.environment import ABResult, run_abtest
from simulators.abtest.item_text import TemplateWriter, Writer, item_text, top_tags

RANKINGS = ("model", "popularity")
METRICS = (
    "active_creators",
    "creator_retention",
    "new_items",
    "genre_entropy",
    "impressions",
    "new_impressions",
    "new_item_share",
    "new_clicks",
    "cold_success",
)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


class GenreWorld:
    """Clicks by genre affinity, for the catalog and for every item added to it.

    Args:
        taste: (U, G) users' genre tastes; features: (I, G) items' genre/tag vectors.
        bias, temperature: the click probability is sigmoid((cos - bias) / temperature).
    """

    star_levels = None  # no star ratings (what ``run_abtest`` reads of a ClickModel's ``fit_ratings``)

    def __init__(self, taste: np.ndarray, features: np.ndarray, bias: float, temperature: float) -> None:
        self.taste = _unit(np.asarray(taste, dtype=np.float64))  # (U, G)
        self.features = _unit(np.asarray(features, dtype=np.float64))  # (I, G)
        if self.features.shape[1] != self.taste.shape[1]:
            raise ValueError(f"features: {self.features.shape[1]} genres, taste has {self.taste.shape[1]}")
        self.bias, self.temperature = bias, temperature

    @classmethod
    def calibrated(
        cls,
        taste: np.ndarray,
        features: np.ndarray,
        base_rate: float = 0.05,
        temperature: float | None = None,
        pairs: int = 200_000,
        seed: int = 0,
    ) -> GenreWorld:
        """Bias set so that the median (user, catalog item) affinity is clicked with ``base_rate``
        (median and the default temperature, the affinities' std, from ``pairs`` seeded pairs)."""
        world = cls(taste, features, 0.0, 1.0)
        rng = np.random.default_rng(seed)
        users = rng.integers(len(world.taste), size=pairs)
        items = rng.integers(len(world.features), size=pairs)
        affinity = (world.taste[users] * world.features[items]).sum(1)
        world.temperature = float(affinity.std()) if temperature is None else temperature
        world.bias = float(np.median(affinity) - world.temperature * np.log(base_rate / (1 - base_rate)))
        return world

    @property
    def num_items(self) -> int:
        return len(self.features)

    def add_items(self, features: np.ndarray) -> np.ndarray:
        """Append items by their (n, G) genre vectors; returns their (n,) item indices."""
        first = self.num_items
        self.features = np.concatenate([self.features, _unit(np.asarray(features, dtype=np.float64))])
        return np.arange(first, self.num_items)

    def click_probabilities(self, users: np.ndarray, slates: np.ndarray) -> np.ndarray:
        """(B, k) click probabilities; slots with item -1 get 0."""
        affinity = np.einsum("bg,bkg->bk", self.taste[users], self.features[np.maximum(slates, 0)])
        p = 1.0 / (1.0 + np.exp(-(affinity - self.bias) / self.temperature))
        return np.where(slates >= 0, p, 0.0)


class CreatorArm:
    """One arm: its recommender (its own copy), its creators, and the items they made in it.

    Args:
        recommender: a content-model ``Recommender`` over the world's first ``catalog`` items with
            one feature modality: the items' genre vectors, or with ``encoder`` the encoder's vectors
            of the catalog's text; it is copied, so arms never share one.
        world: the shared :class:`GenreWorld`; item indices in slates are the world's.
        creators: this arm's population (its own generator).
        ranking: "model" (the recommender's scores) or "popularity" (training listeners plus
            clicks in this arm).
        fresh_slots: slots of every slate kept for new items.
        style: weight of the creator's own topic mix in a new item's genre vector.
        seed: the generator of popularity tie-breaks; the writer's is seeded by ``seed`` and the
            arm's name (two arms' creators write different texts).
        genre_names: (G,) the genres' names (default "genre 0", ...), for the texts.
        creator_names: (C,) the creators' names (default "creator 0", ...), for the texts.
        writer: writes each new item's title and description (default :class:`TemplateWriter`).
        encoder: texts -> (n, d) vectors; when given, new items enter the recommender by the vector
            of their text instead of their genre vector.
    """

    def __init__(
        self,
        name: str,
        recommender,
        world: GenreWorld,
        creators: Creators,
        ranking: str = "model",
        fresh_slots: int = 2,
        style: float = 0.5,
        seed: int = 0,
        genre_names: Sequence[str] | None = None,
        creator_names: Sequence[str] | None = None,
        writer: Writer | None = None,
        encoder: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        if ranking not in RANKINGS:
            raise ValueError(f"ranking: one of {RANKINGS}, got {ranking!r}")
        num_creators, num_genres = creators.topics.shape
        if len(recommender.features or []) != 1:
            raise ValueError("recommender: needs one feature modality (genre vectors or text vectors)")
        if encoder is None and recommender.features[0].shape[1] != num_genres:
            raise ValueError(
                f"recommender: without an encoder its feature modality must be the {num_genres} genre "
                f"columns, got {recommender.features[0].shape[1]}"
            )
        if world.features.shape[1] != num_genres:
            raise ValueError(f"creators: {num_genres} genres, the world has {world.features.shape[1]}")
        self.genre_names = (
            list(genre_names) if genre_names is not None else [f"genre {g}" for g in range(num_genres)]
        )
        self.creator_names = (
            list(creator_names)
            if creator_names is not None
            else [f"creator {c}" for c in range(num_creators)]
        )
        if len(self.genre_names) != num_genres or len(self.creator_names) != num_creators:
            raise ValueError(
                f"genre_names, creator_names: expected {num_genres} and {num_creators} names, got "
                f"{len(self.genre_names)} and {len(self.creator_names)}"
            )
        self.name, self.world, self.creators = name, world, creators
        self.recommender = copy.deepcopy(recommender)
        self.ranking, self.fresh_slots, self.style = ranking, fresh_slots, style
        self.rng = np.random.default_rng(seed)
        self.writer = writer if writer is not None else TemplateWriter()
        self.text_rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        self.encoder = encoder
        self.texts: list[tuple[str, str]] = []  # per new item (the creators' numbering): title, description
        self.catalog = len(self.recommender.item_ids)  # items before the run; later ones are new
        self.global_index = np.arange(self.catalog)  # (I_arm,) world index of each arm item, ascending
        self.listeners = np.asarray(self.recommender.train.sum(axis=0)).ravel().astype(np.float64)
        self.online_clicks = np.zeros(self.catalog)  # (I_arm,) clicks in this arm during the run
        self.genre_clicks = np.ones(world.features.shape[1])  # the arm's per-genre clicks, smoothed
        self.genre_shown = np.full(world.features.shape[1], 10.0)
        self.history: dict[str, list] = {key: [] for key in METRICS}
        self.pending = self._produce()  # the items first shown in round 0

    # ----- items -----

    def _produce(self) -> np.ndarray:
        """The active creators' new items, added to the world and to this arm's catalog."""
        interest = self.genre_clicks / self.genre_shown
        made = self.creators.produce(interest)
        if len(made) == 0:
            return made
        genre, owner = self.creators.item_genre[made], self.creators.item_owner[made]
        genres = np.eye(self.world.features.shape[1])[genre]  # (n, G)
        own_mix = self.creators.topics[owner]  # (n, G) the makers' topics
        features = (1 - self.style) * genres + self.style * own_mix
        texts = self.writer.write(
            [self.genre_names[g] for g in genre],
            [self.creator_names[c] for c in owner],
            [
                top_tags(self.creators.topics[c], self.genre_names, 2, skip=g)
                for c, g in zip(owner, genre, strict=True)
            ],
            self.text_rng,
        )
        self.texts += texts
        if self.encoder is None:
            seen = features.astype(np.float32)  # (n, G) the genre vectors themselves
        else:
            seen = np.asarray(self.encoder([item_text(t, d) for t, d in texts]), dtype=np.float32)  # (n, d)
        indices = self.world.add_items(features)
        self.recommender.add_items([f"{self.name}:{i}" for i in indices], [seen])
        self.global_index = np.concatenate([self.global_index, indices])
        self.online_clicks = np.concatenate([self.online_clicks, np.zeros(len(made))])
        self.listeners = np.concatenate([self.listeners, np.zeros(len(made))])
        return made

    def _local(self, items: np.ndarray) -> np.ndarray:
        """This arm's item numbers of world indices (all from this arm)."""
        return np.searchsorted(self.global_index, items)

    # ----- the policy -----

    def slates(self, users: np.ndarray, k: int, exclude: Sequence[np.ndarray]) -> np.ndarray:
        """(B, k) world item indices: ``k - fresh_slots`` over the whole catalog, then new items."""
        if self.ranking == "model":
            scores = self.recommender.model_scores(users)  # (B, I_arm)
        else:
            popularity = self.listeners + self.online_clicks + 1e-3 * self.rng.random(len(self.listeners))
            scores = torch.from_numpy(np.tile(popularity.astype(np.float32), (len(users), 1)))
        local = [self._local(np.asarray(e, dtype=np.int64)) for e in exclude]
        main, _ = self.recommender.recommend_batch(users, k - self.fresh_slots, exclude=local, scores=scores)
        fresh = np.full((len(users), self.fresh_slots), -1, dtype=np.int64)
        if self.fresh_slots and len(self.global_index) > self.catalog:
            only_new = scores.clone()
            only_new[:, : self.catalog] = -torch.inf
            taken = [np.concatenate([e, m[m >= 0]]) for e, m in zip(local, main, strict=True)]
            fresh, _ = self.recommender.recommend_batch(
                users, self.fresh_slots, exclude=taken, scores=only_new
            )
        slates = np.concatenate([main, fresh], axis=1)  # (B, k) arm item numbers
        return np.where(slates >= 0, self.global_index[np.maximum(slates, 0)], -1)

    # ----- the observer -----

    def observe(self, t: int, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Feedback of this arm's round ``t`` to the platform and the creators; then creators act."""
        shown = slates >= 0
        items, clicked = self._local(slates[shown]), clicks[shown]
        np.add.at(self.online_clicks, items, clicked.astype(np.float64))
        genres = self.world.features[slates[shown]]  # (n, G) unit genre vectors
        self.genre_shown += genres.sum(0)
        self.genre_clicks += genres[clicked].sum(0)
        new = items >= self.catalog
        self.creators.feedback(items[new] - self.catalog, clicked[new])
        made_genres = self.creators.item_genre[self.pending]
        num_genres = self.world.features.shape[1]
        record = {
            "active_creators": int(self.creators.active.sum()),
            "creator_retention": float(self.creators.active.mean()),
            "new_items": len(self.pending),
            "genre_entropy": genre_entropy(np.bincount(made_genres, minlength=num_genres).astype(float)),
            "impressions": int(shown.sum()),
            "new_impressions": int(new.sum()),
            "new_item_share": float(new.mean()) if len(new) else 0.0,
            "new_clicks": int(clicked[new].sum()),
            "cold_success": float(np.mean(self.creators.item_clicks > 0)) if self.creators.num_items else 0.0,
        }
        for key, value in record.items():
            self.history[key].append(value)
        self.creators.leave(t)
        self.pending = self._produce()


class _Dispatch:
    """The observer ``run_abtest`` calls: each arm's round goes to that arm."""

    def __init__(self, arms: Sequence[CreatorArm]) -> None:
        self.arms = arms

    def on_round(self, t: int, arm: int, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        self.arms[arm].observe(t, users, slates, clicks)


def run_creator_abtest(
    arms: Sequence[CreatorArm],
    users: np.ndarray,
    user_ids: Sequence[object],
    rounds: int = 50,
    k: int = 10,
    patience: int = 5,
    seed: int = 2026,
    salt: str = "creators",
    progress: bool = False,
) -> ABResult:
    """``run_abtest`` over creator arms (their world as the click model); the per-round creator
    metrics are in each arm's ``history``."""
    world = arms[0].world
    if any(arm.world is not world for arm in arms):
        raise ValueError("arms: every arm must share one GenreWorld")
    return run_abtest(
        list(arms),
        [arm.name for arm in arms],
        world,
        users,
        user_ids,
        arms[0].catalog,
        rounds=rounds,
        k=k,
        patience=patience,
        seed=seed,
        salt=salt,
        progress=progress,
        observers=[_Dispatch(arms)],
    )
