"""Tiny trained models for the service tests, and apps built over them.

One session builds, in a temporary folder: two BPR recommenders on seeded synthetic logs (two
versions to swap between), a size-fit model and a product matcher trained on stand-in text
vectors (hashed words instead of MiniLM, so that no encoder is loaded), and a catalog to match
against.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from product.matching.features import field_texts
from serving.ports import free_port

ADMIN_KEY = "test-admin-key"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs a PostgreSQL server (scripts/postgres.sh); skipped when none starts"
    )


def hashed_vectors(listings: pd.DataFrame, field: str = "title", dim: int = 64) -> np.ndarray:
    """Unit rows from hashed words of ``field``, (n, dim): a deterministic stand-in for MiniLM."""
    vectors = np.zeros((len(listings), dim), dtype=np.float32)
    for row, text in enumerate(field_texts(listings, field)):
        for token in text.lower().split():
            vectors[row, zlib.crc32(token.encode()) % dim] += 1.0
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def hashed_embed_fields(
    listings: pd.DataFrame, fields: tuple[str, ...], cache_root: Path | None = None, precision: str = "auto"
) -> dict:
    """Drop-in for ``product.matching.features.embed_fields`` (the precision plays no part)."""
    return {field: hashed_vectors(listings, field) for field in fields}


@dataclass(frozen=True)
class Served:
    """Paths of what the session trained."""

    log: pd.DataFrame  # the base interaction log (user_id, item_id, rating, timestamp)
    model_dir: Path  # BPR, version A
    other_model_dir: Path  # BPR trained with another seed: version B
    sizefit: Path
    sizefit_customer: str  # a customer with purchase history
    sizefit_product: str
    matcher: Path
    catalog: Path  # right-hand listings (JSON Lines)
    catalog_titles: dict[str, str]  # id -> title of the catalog's listings


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    from product.matching.features import encode_catalogs
    from product.matching.matcher import Matcher, MatcherConfig
    from product.matching.synthetic import label_pairs, make_catalogs
    from product.sizefit.synthetic import generate_fit_data
    from product.sizefit.train import SizeFitConfig, train_size_fit
    from recsys.experiment import RECOMMENDER_DIR, TrainConfig, run_experiment
    from recsys.splits import random_split
    from recsys.synthetic import make_interactions

    root = tmp_path_factory.mktemp("served")
    data, _ = make_interactions(num_users=200, num_items=120, events_per_user=15, seed=11)
    split = random_split(data, (0.8, 0.1, 0.1), seed=11)
    dirs = []
    for seed in (1, 2):
        config = TrainConfig(model="bpr", dim=16, epochs=4, lr=1e-2, batch_size=512, seed=seed)
        run_experiment(split, config, root / f"bpr-{seed}", progress=False)
        dirs.append(root / f"bpr-{seed}" / RECOMMENDER_DIR)

    shop = generate_fit_data(num_customers=300, num_products=30, seed=7)
    size_model, _ = train_size_fit(shop.frame, SizeFitConfig(epochs=2, seed=0, use_reviews=False))
    size_model.save(root / "sizefit.pt")

    catalogs = make_catalogs(30, seed=3)
    matcher = Matcher(MatcherConfig(k=5, num_boost_round=30, threads=1))
    vectors = {"title": (hashed_vectors(catalogs.left), hashed_vectors(catalogs.right))}
    encoded = encode_catalogs(catalogs.left, catalogs.right, vectors, matcher.config.k)
    pairs = label_pairs(matcher.candidates(encoded), catalogs.matches)
    matcher.fit_features(matcher.features(encoded, pairs), pairs["label"].to_numpy())
    matcher.save(root / "matcher.json")
    catalogs.right.to_json(root / "catalog.jsonl", orient="records", lines=True)

    return Served(
        log=data.to_frame(),
        model_dir=dirs[0],
        other_model_dir=dirs[1],
        sizefit=root / "sizefit.pt",
        sizefit_customer=str(shop.frame["customer_id"].iloc[0]),
        sizefit_product=str(shop.frame["product_id"].iloc[0]),
        matcher=root / "matcher.json",
        catalog=root / "catalog.jsonl",
        catalog_titles=dict(zip(catalogs.right["id"], catalogs.right["title"], strict=True)),
    )


@pytest.fixture(scope="session")
def ranker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-stage ranker (ItemKNN + popularity, LightGBM fitted on the validation items) over the
    same users and items as ``served``, saved in the run-folder layout ``benchmarks.rerank``
    writes: ``RUN/itemknn/recommender``, ``RUN/pop/recommender``, ``RUN/ranker`` (returned)."""
    from recsys.candidates import candidate_labels, retrieve
    from recsys.experiment import RECOMMENDER_DIR, TrainConfig, run_experiment
    from recsys.ranking_features import build_tables, candidate_features, feature_names
    from recsys.recommender import Recommender
    from recsys.rerank import TwoStageRanker, fit_ranker, flatten
    from recsys.splits import random_split
    from recsys.synthetic import make_interactions

    run = tmp_path_factory.mktemp("two-stage")
    data, truth = make_interactions(num_users=200, num_items=120, events_per_user=15, seed=11)
    split = random_split(data, (0.8, 0.1, 0.1), seed=11)  # the split of ``served``
    depths = {"itemknn": 30, "pop": 20}
    retrievers = {}
    for name in depths:
        config = TrainConfig(model=name, knn_k=20) if name == "itemknn" else TrainConfig(model=name)
        run_experiment(split, config, run / name, progress=False)
        retrievers[name] = Recommender.load(run / name / RECOMMENDER_DIR)
    train, valid = split.train.to_csr(), split.valid.to_csr()
    genres = np.eye(6, dtype=np.float32)[truth["item_cluster"]]
    years = (1950 + 10 * truth["item_cluster"]).astype(np.float32)
    tables = build_tables(split.train, genres, years, truth["item_factors"])
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    found = retrieve(
        retrievers, depths, users, exclude=[train[u].indices for u in users], exclude_known=False
    )
    features, labels = candidate_features(found, tables, train), candidate_labels(found, valid)
    fit, tune = slice(0, len(users) * 4 // 5), slice(len(users) * 4 // 5, None)
    fitted = fit_ranker(
        flatten(features[fit], labels[fit], found.mask[fit]),
        flatten(features[tune], labels[tune], found.mask[tune]),
        names=feature_names(tuple(depths)),
        num_rounds=50,
        num_leaves=7,
        min_child_samples=5,
        early_stopping=10,
    )
    ranker = TwoStageRanker(fitted.booster_, tuple(depths), tuple(depths.values()), tables)
    return ranker.save(run / "ranker")


@pytest.fixture
def hashed_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The matcher embeds listing texts with ``hashed_vectors`` instead of MiniLM."""
    import product.matching.matcher

    monkeypatch.setattr(product.matching.matcher, "embed_fields", hashed_embed_fields)


@pytest.fixture
def make_client(served: Served, tmp_path: Path, hashed_text: None) -> Iterator[Callable[..., TestClient]]:
    """``make_client(**settings)``: a started app over the session's models (every optional model
    loaded, admin enabled, a fresh SQLite store) with ``settings`` overriding those defaults."""
    from serving.config import Settings
    from serving.main import create_app

    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        options = {
            "model_dir": served.model_dir,
            "feedback_url": f"sqlite:///{tmp_path / 'feedback.db'}",
            "admin_api_key": ADMIN_KEY,
            "sizefit_model": served.sizefit,
            "matcher_model": served.matcher,
            "catalog": served.catalog,
            **overrides,
        }
        client = TestClient(create_app(Settings(**options)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def admin() -> dict[str, str]:
    """Headers that pass the admin check of ``make_client``'s apps."""
    return {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them off PATH), or None."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback for this session (initdb + pg_ctl in a temporary
    folder); the test is skipped, saying why, when none can be started."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed: run scripts/postgres.sh")
    root = Path(tempfile.mkdtemp(prefix="alignrec-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the cluster belongs to user postgres
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to own a cluster")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    port, data = free_port(), root / "data"

    def pg(program: str, *args: str) -> None:
        subprocess.run(
            [*as_owner, str(bin_dir / program), *args], check=True, capture_output=True, timeout=60
        )

    try:
        pg("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
        pg(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not be started: {error} {detail.decode(errors='replace')[-300:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_feedback_url(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` with an empty feedback table for each test."""
    import sqlalchemy as sa

    from serving.feedback import metadata

    yield postgres_url
    engine = sa.create_engine(postgres_url)
    metadata.drop_all(engine)
    engine.dispose()
