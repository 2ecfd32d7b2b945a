"""Creator arms whose recommender sees only text: catalog and new items enter as encoder vectors."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from recsys.models.vbpr import VBPR
from recsys.recommender import Recommender
from recsys.synthetic import genre_interactions
from recsys.train import fit
from simulators.abtest.creator_platform import CreatorArm, GenreWorld, run_creator_abtest
from simulators.abtest.creators import CreatorConfig, Creators
from simulators.abtest.item_text import catalog_text, item_text, top_tags

NAMES = ["rock", "jazz", "pop", "techno"]
DIM = 16


class WordHashEncoder:
    """A fast stand-in for MiniLM: unit bag-of-words vectors hashed into DIM buckets; counts texts."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(".", " ").replace(",", " ").split():
                out[row, zlib.crc32(word.encode()) % DIM] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


@pytest.fixture(scope="module")
def world():
    """60 users who played 6 of 50 artists each, leaning to their genres; artists' tag vectors."""
    log, taste, genres = genre_interactions(60, 50, len(NAMES), 6, sharpness=6.0, seed=0)
    return taste, genres, log


def text_recommender(world, encoder) -> Recommender:
    taste, genres, log = world
    texts = [catalog_text(f"artist {i}", top_tags(g, NAMES, 2)) for i, g in enumerate(genres)]
    features = [encoder(texts)]
    torch.manual_seed(0)
    model = VBPR(log.num_users, log.num_items, features, dim=8, content_dim=4)
    fit(model, log, epochs=2, batch_size=128, lr=0.01, num_negatives=2, progress=False)
    return Recommender(model, log.to_csr(), log.user_ids, log.item_ids, features=features)


def run(world, rounds: int = 5, seed: int = 0):
    taste, genres, log = world
    encoder = WordHashEncoder()
    recommender = text_recommender(world, encoder)
    clicks = GenreWorld.calibrated(taste, genres, base_rate=0.1)
    topics = genres[:8] / genres[:8].sum(1, keepdims=True)
    arms = [
        CreatorArm(
            name,
            recommender,
            clicks,
            Creators(topics, CreatorConfig(leave_from=3), np.random.default_rng([seed, a])),
            ranking=ranking,
            seed=seed,
            genre_names=NAMES,
            creator_names=[f"maker {c}" for c in range(8)],
            encoder=encoder,
        )
        for a, (name, ranking) in enumerate((("pop", "popularity"), ("vbpr", "model")))
    ]
    users = np.arange(log.num_users)
    result = run_creator_abtest(arms, users, [str(u) for u in users], rounds=rounds, k=5, seed=seed)
    return clicks, arms, result, encoder


def test_new_items_enter_the_recommender_as_vectors_of_their_text(world):
    clicks, arms, _, encoder = run(world)
    # every encoder call after the catalog's is one arm's new items of one round
    encoded = sum(len(call) for call in encoder.calls[1:])
    assert encoded == sum(arm.creators.num_items for arm in arms)
    for arm in arms:
        made = arm.creators.num_items
        assert made > 0 and len(arm.texts) == made
        assert len(arm.recommender.item_ids) == arm.catalog + made
        expected = encoder([item_text(title, description) for title, description in arm.texts])
        assert np.allclose(arm.recommender.features[0][arm.catalog :], expected)  # (made, DIM)
        assert arm.recommender.features[0].shape[1] == DIM
        for (_, description), genre, owner in zip(
            arm.texts, arm.creators.item_genre, arm.creators.item_owner, strict=True
        ):
            assert NAMES[genre] in description and f"maker {owner}" in description
        # the world still clicks by each new item's genre vector, not by its text
        genre_vectors = 0.5 * np.eye(len(NAMES))[arm.creators.item_genre]
        genre_vectors += 0.5 * arm.creators.topics[arm.creators.item_owner]
        genre_vectors /= np.linalg.norm(genre_vectors, axis=1, keepdims=True)
        assert np.allclose(clicks.features[arm.global_index[arm.catalog :]], genre_vectors)


def test_the_text_path_is_reproducible(world):
    _, arms, result, _ = run(world)
    _, again, repeat, _ = run(world)
    assert [a.texts for a in arms] == [a.texts for a in again]
    assert [a.history for a in arms] == [a.history for a in again]
    assert np.array_equal(result.clicks, repeat.clicks)
    _, other, _, _ = run(world, seed=1)
    assert [a.texts for a in arms] != [a.texts for a in other]
    assert [t for t, _ in arms[0].texts[:4]] != [t for t, _ in arms[1].texts[:4]]  # each arm its own draws


def test_without_an_encoder_a_text_recommender_is_refused(world):
    taste, genres, _ = world
    recommender = text_recommender(world, WordHashEncoder())
    creators = Creators(
        genres[:3] / genres[:3].sum(1, keepdims=True), CreatorConfig(), np.random.default_rng(0)
    )
    clicks = GenreWorld.calibrated(taste, genres)
    with pytest.raises(ValueError, match="without an encoder"):
        CreatorArm("x", recommender, clicks, creators)
    with pytest.raises(ValueError, match="names"):
        CreatorArm("x", recommender, clicks, creators, genre_names=NAMES[:2], encoder=WordHashEncoder())
