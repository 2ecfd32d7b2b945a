"""Two-stage ranking: merged retriever candidates re-ranked by LightGBM LambdaRank.

Stage one (``recsys.candidates``) asks several retrievers (``Recommender`` objects: LightGCN, BPR,
ItemKNN, popularity) for their top items and merges them; stage two scores every (user, candidate)
pair from ``recsys.ranking_features`` with a ``lightgbm.LGBMRanker``. LambdaRank (Burges, "From
RankNet to LambdaRank to LambdaMART", 2010) weights each pairwise gradient by the change in NDCG
that swapping the pair would cause, so training optimises the top of the list directly.

The ranker must learn from interactions the retrievers did not see (their training items are
excluded from candidates; the labels are held-out items, e.g. the validation split), and it is
tuned (early stopping) on held-out users.

:class:`TwoStageRanker` is the online object: ``rank(retrievers, user, k)`` for one request,
``rank_batch`` for many. It is saved as data — LightGBM's text model, a JSON manifest and an
``.npz`` of feature tables — never as a pickle. This is the only module importing ``lightgbm``
for recsys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm
import numpy as np

from recsys.candidates import Candidates, retrieve
from recsys.ranking_features import FeatureTables, candidate_features, feature_names
from recsys.recommender import Recommender
from recsys.storage import atomic_dir, file_sha256

FORMAT = "alignrec-two-stage-ranker"
FORMAT_VERSION = 1
MANIFEST, MODEL, TABLES = "ranker.json", "model.txt", "tables.npz"


def flatten(
    features: np.ndarray, labels: np.ndarray, mask: np.ndarray, positive_only: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q, C, F) features and (Q, C) labels to LightGBM's rows (N, F), labels (N,) and group
    sizes (Q',); with ``positive_only``, queries without a relevant candidate (they give LambdaRank
    no gradient, and NDCG counts them as perfect) are left out."""
    if labels.shape != features.shape[:2] or mask.shape != labels.shape:
        raise ValueError(f"labels {labels.shape} and mask {mask.shape} must be {features.shape[:2]}")
    keep = labels.any(axis=1) if positive_only else np.ones(len(labels), dtype=bool)
    rows = mask[keep]
    return features[keep][rows], labels[keep][rows], rows.sum(axis=1)


def fit_ranker(
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    tune: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    names: Sequence[str],
    num_rounds: int = 1000,
    learning_rate: float = 0.05,
    num_leaves: int = 63,
    min_child_samples: int = 50,
    subsample: float = 0.8,
    colsample: float = 0.8,
    early_stopping: int = 50,
    seed: int = 0,
    threads: int = 1,
) -> lightgbm.LGBMRanker:
    """Train LambdaRank on rows (N, F), 0/1 labels (N,) and query sizes (Q,) (see :func:`flatten`),
    stopping when the NDCG@10 of ``tune`` (held-out users, same layout) has not improved for
    ``early_stopping`` rounds. Returns the ``LGBMRanker``; ``best_iteration_`` is the round kept."""
    (x, y, group), (tx, ty, tgroup) = train, tune
    if len(x) != len(y) or group.sum() != len(x):
        raise ValueError(f"train: {len(x)} rows, {len(y)} labels, groups summing to {group.sum()}")
    ranker = lightgbm.LGBMRanker(
        objective="lambdarank",
        n_estimators=num_rounds,
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        min_child_samples=min_child_samples,
        subsample=subsample,
        subsample_freq=1,
        colsample_bytree=colsample,
        random_state=seed,
        n_jobs=threads,
        verbose=-1,
    )
    ranker.fit(
        x,
        y,
        group=group,
        eval_X=(tx,),
        eval_y=(ty,),
        eval_group=[tgroup],
        eval_at=[10],
        feature_name=list(names),
        callbacks=[lightgbm.early_stopping(early_stopping, verbose=False)],
    )
    return ranker


@dataclass
class TwoStageRanker:
    """Retrievers' merged candidates, re-ranked by a LightGBM booster.

    Attributes:
        booster: the trained LambdaRank model (``best_iteration`` rounds are used).
        sources: retriever names, in the order the features list them.
        depths: candidates each retriever proposes per user.
        tables: per-user and per-item feature tables (aligned with the retrievers' indices).
        info: how it was trained (protocol, rounds, validation metrics), saved with it.
        threads: LightGBM prediction threads.
    """

    booster: lightgbm.Booster
    sources: tuple[str, ...]
    depths: tuple[int, ...]
    tables: FeatureTables
    info: dict[str, object] = field(default_factory=dict)
    threads: int = 1

    def __post_init__(self) -> None:
        self.sources, self.depths = tuple(self.sources), tuple(int(d) for d in self.depths)
        names = feature_names(self.sources)
        if self.booster.feature_name() != names:
            raise ValueError(
                f"booster features {self.booster.feature_name()} differ from this code's {names}"
            )

    @property
    def feature_names(self) -> list[str]:
        return feature_names(self.sources)

    def check(self, retrievers: Mapping[str, Recommender]) -> None:
        """Raise ValueError unless ``retrievers`` are the ones this ranker was trained with."""
        if tuple(retrievers) != self.sources:
            raise ValueError(
                f"retrievers: expected {list(self.sources)} in that order, got {list(retrievers)}"
            )
        shape = (self.tables.num_users, self.tables.num_items)
        for name, recommender in retrievers.items():
            if recommender.train.shape != shape:
                raise ValueError(
                    f"retriever {name!r}: {recommender.train.shape} users x items, ranker {shape}"
                )

    def candidates(
        self,
        retrievers: Mapping[str, Recommender],
        users: np.ndarray,
        exclude: Sequence[np.ndarray] | None = None,
        exclude_known: bool = True,
    ) -> Candidates:
        """Stage one for ``users`` (Q,)."""
        return retrieve(
            retrievers, dict(zip(self.sources, self.depths, strict=True)), users, exclude, exclude_known
        )

    def predict(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(Q, C) ranker scores of (Q, C, F) features; -inf at padding."""
        flat = features[mask].astype(np.float64)  # (N, F); LightGBM reads float64 faster
        scores = np.full(mask.shape, -np.inf, dtype=np.float32)
        if len(flat):
            scores[mask] = self.booster.predict(
                flat, num_iteration=self.best_iteration, num_threads=self.threads
            )
        return scores

    @property
    def best_iteration(self) -> int:
        """Rounds used: early stopping's best round in memory; a saved model holds only those."""
        best = int(self.booster.best_iteration)
        return best if best > 0 else self.booster.num_trees()

    def rank_batch(
        self,
        retrievers: Mapping[str, Recommender],
        users: np.ndarray,
        k: int,
        exclude: Sequence[np.ndarray] | None = None,
        exclude_known: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(Q, k) internal item indices and ranker scores, best first; -1 and -inf where fewer
        than k candidates exist.

        Args:
            retrievers: name -> Recommender, the ones the ranker was trained with (``check``).
            users: (Q,) internal user indices (known users; unknown ones take the cold path).
            exclude: per user, internal item indices not to recommend, besides the known items.
        """
        if k < 1:
            raise ValueError(f"k: expected a positive integer, got {k}")
        self.check(retrievers)
        found = self.candidates(retrievers, users, exclude, exclude_known)
        features = candidate_features(found, self.tables, retrievers[self.sources[0]].train)
        scores = self.predict(features, found.mask)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(scores, order, axis=1)
        items = np.where(np.isfinite(top), np.take_along_axis(found.items, order, axis=1), -1)
        if items.shape[1] < k:
            pad = k - items.shape[1]
            items = np.pad(items, ((0, 0), (0, pad)), constant_values=-1)
            top = np.pad(top, ((0, 0), (0, pad)), constant_values=-np.inf)
        return items, top

    def rank(
        self,
        retrievers: Mapping[str, Recommender],
        user: int,
        k: int,
        exclude: np.ndarray | None = None,
        exclude_known: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One request: (≤ k,) internal item indices and scores, best first."""
        extra = None if exclude is None else [np.asarray(exclude, dtype=np.int64)]
        items, scores = self.rank_batch(retrievers, np.array([user]), k, extra, exclude_known)
        keep = items[0] >= 0
        return items[0][keep], scores[0][keep]

    # ----- persistence -----

    def save(self, path: str | Path) -> Path:
        """Write the folder atomically: ``model.txt`` (LightGBM text), ``tables.npz``, ``ranker.json``."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            self.booster.save_model(str(tmp / MODEL))
            np.savez(tmp / TABLES, **self.tables.arrays())
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "sources": list(self.sources),
                "depths": list(self.depths),
                "feature_names": self.feature_names,
                "num_users": self.tables.num_users,
                "num_items": self.tables.num_items,
                "info": self.info,
                "files": {name: file_sha256(tmp / name) for name in (MODEL, TABLES)},
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: str | Path, threads: int = 1) -> TwoStageRanker:
        """Read a folder written by ``save``; checks format, version and every file's checksum."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{manifest_path}: missing; {path} is not a saved two-stage ranker")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{manifest_path}: not valid JSON ({error})") from None
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{manifest_path}: field 'format' is {manifest.get('format')!r}, not {FORMAT!r}")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{manifest_path}: field 'format_version' is {manifest.get('format_version')}, this "
                f"alignrec reads {FORMAT_VERSION}; retrain the ranker"
            )
        for name, digest in manifest["files"].items():
            if not (path / name).is_file() or file_sha256(path / name) != digest:
                raise ValueError(f"{path / name}: missing or its checksum differs from {MANIFEST}")
        booster = lightgbm.Booster(model_file=str(path / MODEL))
        with np.load(path / TABLES, allow_pickle=False) as handle:
            tables = FeatureTables.from_arrays({key: handle[key] for key in handle.files})
        return cls(
            booster, tuple(manifest["sources"]), tuple(manifest["depths"]), tables, manifest["info"], threads
        )
