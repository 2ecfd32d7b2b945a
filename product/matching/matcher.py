"""The pair matcher: LightGBM on pair features, an F1-optimal threshold, optional 1:1 assignment,
and per-decision explanations (LightGBM's TreeSHAP contributions).

With ``score_context`` a second LightGBM stage also sees how each pair's out-of-fold first-stage
score ranks among its listings' other candidates (``product.matching.context``).

Use from Python::

    matcher = Matcher(MatcherConfig()).fit(left, right, train_pairs, valid_pairs)
    matcher.save("matcher.json")
    matches = Matcher.load("matcher.json").predict_pairs(left, right)  # blocking + scoring

``left`` and ``right`` are catalogs in the listing schema (``product.matching.listing``); pairs
are ``left_id, right_id`` (plus ``label`` to train). The model file is one JSON document (config,
threshold, feature names, LightGBM model text) written atomically.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from product.matching.blocking import candidate_pairs
from product.matching.context import left_folds, score_context, union_pairs
from product.matching.features import (
    EMBED_FIELDS,
    EncodedCatalogs,
    embed_fields,
    embed_images,
    embed_title_tokens,
    encode_catalogs,
    pair_features,
)
from product.matching.pairs import check_labels
from product.text_encoder import PRECISIONS
from recsys.storage import write_text_atomic

FORMAT = "alignrec-matcher/2"
READABLE_FORMATS = ("alignrec-matcher/1", FORMAT)  # /1: no score-context stage
CONTEXT_MODES = ("off", "on", "valid")


@dataclass
class MatcherConfig:
    """Features and LightGBM settings of a matcher."""

    fields: tuple[str, ...] = field(
        default=("title",), metadata={"help": "fields embedded with MiniLM: title, description, text"}
    )
    images: bool = field(
        default=False, metadata={"help": "compare EfficientNet-Lite0 vectors of local image files"}
    )
    token_align: bool = field(
        default=False,
        metadata={"help": "soft alignment of the titles' MiniLM token vectors (BERTScore-style features)"},
    )
    k: int = field(default=10, metadata={"help": "neighbours per listing on each blocking path"})
    num_boost_round: int = field(default=300, metadata={"help": "LightGBM boosting rounds"})
    learning_rate: float = field(default=0.05, metadata={"help": "LightGBM learning rate"})
    num_leaves: int = field(default=31, metadata={"help": "LightGBM leaves per tree"})
    min_child_samples: int = field(default=10, metadata={"help": "LightGBM minimum rows per leaf"})
    feature_fraction: float = field(default=0.8, metadata={"help": "features sampled per tree"})
    threads: int = field(
        default=1, metadata={"help": "LightGBM threads (one is fastest on small tables and shared cores)"}
    )
    seed: int = field(default=0, metadata={"help": "LightGBM seed"})
    cv_folds: int = field(
        default=5, metadata={"help": "folds for the out-of-fold threshold when no validation pairs"}
    )
    score_context: str = field(
        default="valid",
        metadata={
            "help": "second stage on the rank and margin of each pair's out-of-fold score among its "
            "listings' candidates: on, off, or valid (kept only when it raises F1 on the validation pairs)"
        },
    )
    context_folds: int = field(
        default=5, metadata={"help": "folds of left listings for the out-of-fold first-stage scores"}
    )
    text_precision: str = field(
        default="auto",
        metadata={
            "help": "MiniLM precision: auto (bf16 on CPUs with bfloat16 units, else fp32), fp32 (the same "
            "vectors whatever the batch, cache or CPU), bf16"
        },
    )

    def __post_init__(self) -> None:
        unknown = set(self.fields) - set(EMBED_FIELDS)
        if unknown or "title" not in self.fields:
            raise ValueError(f"fields must include 'title' and come from {EMBED_FIELDS}, got {self.fields}")
        if self.k < 2:
            raise ValueError(f"k must be at least 2 (the margin feature needs a runner-up), got {self.k}")
        if self.score_context not in CONTEXT_MODES:
            raise ValueError(f"score_context must be one of {CONTEXT_MODES}, got {self.score_context!r}")
        if self.context_folds < 2:
            raise ValueError(f"context_folds must be at least 2, got {self.context_folds}")
        if self.text_precision not in PRECISIONS:
            raise ValueError(f"text_precision must be one of {PRECISIONS}, got {self.text_precision!r}")


def precision_recall_f1(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of binary predictions."""
    labels, predicted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    tp = float((labels & predicted).sum())
    precision = tp / float(predicted.sum()) if predicted.any() else 0.0
    recall = tp / float(labels.sum()) if labels.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (predict ``score >= t``) that maximises F1 on these labels."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def assign_one_to_one(left_idx: np.ndarray, right_idx: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Greedy 1:1 assignment: take pairs by descending score while both listings are free.

    Returns a boolean mask over the pairs. Greedy keeps at least half the optimal total score and,
    unlike a full assignment, never forces a pair that the threshold rejected.
    """
    taken = np.zeros(len(scores), dtype=bool)
    used_left: set[int] = set()
    used_right: set[int] = set()
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if left_idx[i] in used_left or right_idx[i] in used_right:
            continue
        taken[i] = True
        used_left.add(left_idx[i])
        used_right.add(right_idx[i])
    return taken


def catalog_rows(
    left: pd.DataFrame, right: pd.DataFrame, pairs: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of ``left_id, right_id`` pairs in two catalogs; raises ValueError naming unknown ids."""
    rows = []
    for column, catalog in (("left_id", left), ("right_id", right)):
        found = pd.Index(catalog["id"]).get_indexer(pairs[column].astype(str))
        if (found < 0).any():
            unknown = pairs[column][found < 0].unique()[:5].tolist()
            raise ValueError(f"pairs: field {column!r}: ids not in the catalog: {unknown}")
        rows.append(found)
    return rows[0], rows[1]


def _lgb_params(config: MatcherConfig) -> dict:
    return {
        "objective": "binary",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "num_threads": config.threads,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


class Matcher:
    """Scores pairs of listings and decides which are the same product."""

    def __init__(self, config: MatcherConfig | None = None):
        self.config = config or MatcherConfig()
        self.booster = None  # lightgbm.Booster once fitted or loaded (the last stage)
        self.threshold = 0.5
        self.feature_names: list[str] = []
        self.fold_boosters: list = []  # first-stage models per fold of left listings; [] = one stage
        self.selection: dict[str, float | bool] = {}  # validation F1 with and without score context

    # ----- features ---------------------------------------------------------------------------
    def encode(
        self, left: pd.DataFrame, right: pd.DataFrame, cache_root: Path | None = None
    ) -> EncodedCatalogs:
        """Embed, parse, vectorise and index two catalogs with this matcher's feature settings.

        ``cache_root`` keeps text (and image) vectors between runs, keyed by content hash.
        """
        fields, precision = self.config.fields, self.config.text_precision
        left_vectors, right_vectors = (
            embed_fields(left, fields, cache_root, precision),
            embed_fields(right, fields, cache_root, precision),
        )
        embeddings = {field: (left_vectors[field], right_vectors[field]) for field in fields}
        images = None
        if self.config.images:
            images = (embed_images(left, cache_root), embed_images(right, cache_root))
        tokens = None
        if self.config.token_align:
            tokens = (
                embed_title_tokens(left, cache_root, precision=precision),
                embed_title_tokens(right, cache_root, precision=precision),
            )
        return encode_catalogs(left, right, embeddings, self.config.k, images, tokens)

    @staticmethod
    def pair_rows(enc: EncodedCatalogs, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers of ``left_id, right_id`` pairs in encoded catalogs (see ``catalog_rows``)."""
        return catalog_rows(enc.left, enc.right, pairs)

    @staticmethod
    def candidates(enc: EncodedCatalogs) -> pd.DataFrame:
        """Blocking candidates of encoded catalogs: ``left_id, right_id, left_idx, right_idx``."""
        pairs = candidate_pairs(list(enc.neighbours.values()))
        return pd.DataFrame(
            {
                "left_id": enc.left["id"].to_numpy()[pairs["left_idx"]],
                "right_id": enc.right["id"].to_numpy()[pairs["right_idx"]],
                "left_idx": pairs["left_idx"],
                "right_idx": pairs["right_idx"],
            }
        )

    def features(self, enc: EncodedCatalogs, pairs: pd.DataFrame) -> pd.DataFrame:
        """The feature table of ``left_id, right_id`` pairs."""
        left_idx, right_idx = self.pair_rows(enc, pairs)
        return pair_features(enc, left_idx, right_idx)

    # ----- training ---------------------------------------------------------------------------
    def fit(
        self,
        left: pd.DataFrame,
        right: pd.DataFrame,
        pairs: pd.DataFrame,
        valid: pd.DataFrame | None = None,
        cache_root: Path | None = None,
    ) -> Matcher:
        """Train on labelled pairs; pick the threshold on ``valid`` (else out-of-fold on ``pairs``).

        Labels and ids are checked before the (slow) encoding of the catalogs.
        """
        check_labels(pairs["label"], "training pairs")
        if valid is not None:
            check_labels(valid["label"], "validation pairs")
        for checked in (pairs, valid):
            if checked is not None:
                catalog_rows(left, right, checked)
        return self.fit_encoded(self.encode(left, right, cache_root), pairs, valid)

    def fit_encoded(
        self, enc: EncodedCatalogs, pairs: pd.DataFrame, valid: pd.DataFrame | None = None
    ) -> Matcher:
        """Train on labelled pairs of encoded catalogs: the pair-feature model (``fit_features``),
        then, unless ``score_context`` is "off", the score-context stage on top of it.

        The second stage's first-stage scores are out-of-fold: left listings are split into
        ``context_folds`` folds and each fold's pairs (labelled or blocking candidates) are scored by
        a model trained on the labelled pairs of the other folds. With "valid" the second stage is
        kept only when its F1 on the validation pairs beats the single stage's (without validation
        pairs it is kept).
        """
        rows = [self.pair_rows(enc, pairs)]
        y = pairs["label"].to_numpy().astype(int)
        y_valid = None
        if valid is not None:
            rows.append(self.pair_rows(enc, valid))
            y_valid = valid["label"].to_numpy().astype(int)
        self.fold_boosters, self.selection = [], {}
        if self.config.score_context == "off":
            x = [pair_features(enc, *r) for r in rows]
            return self.fit_features(x[0], y, x[1] if valid is not None else None, y_valid)

        candidates = candidate_pairs(list(enc.neighbours.values()))
        pool_left, pool_right, pool_rows = union_pairs(
            [*rows, (candidates["left_idx"].to_numpy(), candidates["right_idx"].to_numpy())]
        )
        x_pool = pair_features(enc, pool_left, pool_right)
        x = [x_pool.iloc[r].reset_index(drop=True) for r in pool_rows[: len(rows)]]
        self.fit_features(x[0], y, x[1] if valid is not None else None, y_valid)
        single = (self.booster, self.threshold, self.feature_names)

        folds = left_folds(len(enc.left), self.config.context_folds, self.config.seed)
        train_folds = folds[rows[0][0]]
        fold_boosters = []
        for fold in range(self.config.context_folds):
            keep = train_folds != fold
            check_labels(y[keep], f"training pairs outside fold {fold} of the left listings")
            fold_boosters.append(self._train(x[0][keep], y[keep]))
        scores = self._stage1_scores(fold_boosters, folds, x_pool, pool_left)
        staged = [
            xi.join(self._context(r, pool_rows[-1], pool_left, pool_right, scores))
            for xi, r in zip(x, pool_rows[: len(x)], strict=True)
        ]
        self.fit_features(staged[0], y, staged[1] if valid is not None else None, y_valid)
        self.fold_boosters = fold_boosters

        if self.config.score_context == "valid" and valid is not None:
            single_scores = single[0].predict(x[1], num_threads=self.config.threads)
            single_f1 = precision_recall_f1(y_valid, single_scores >= single[1])["f1"]
            staged_f1 = precision_recall_f1(y_valid, self.score_features(staged[1]) >= self.threshold)["f1"]
            self.selection = {
                "single_stage_valid_f1": single_f1,
                "score_context_valid_f1": staged_f1,
                "score_context": staged_f1 > single_f1,
            }
            if staged_f1 <= single_f1:
                self.booster, self.threshold, self.feature_names = single
                self.fold_boosters = []
        return self

    def _stage1_scores(
        self, fold_boosters: list, folds: np.ndarray, x_pool: pd.DataFrame, pool_left: np.ndarray
    ) -> np.ndarray:
        """Each pair's first-stage score from the model of its left listing's fold, (n,)."""
        scores = np.zeros(len(x_pool))
        pool_folds = folds[pool_left]
        for fold, booster in enumerate(fold_boosters):
            chosen = np.flatnonzero(pool_folds == fold)
            if len(chosen):
                scores[chosen] = booster.predict(x_pool.iloc[chosen], num_threads=self.config.threads)
        return scores

    @staticmethod
    def _context(
        rows: np.ndarray,
        candidate_rows: np.ndarray,
        pool_left: np.ndarray,
        pool_right: np.ndarray,
        scores: np.ndarray,
    ) -> pd.DataFrame:
        """Score context of the pool pairs ``rows`` against the blocking candidates (pool rows
        ``candidate_rows``), the same reference at training and prediction time."""
        return score_context(
            pool_left[rows],
            pool_right[rows],
            scores[rows],
            pool_left[candidate_rows],
            pool_right[candidate_rows],
            scores[candidate_rows],
        )

    def _train(self, x: pd.DataFrame, y: np.ndarray):
        import lightgbm as lgb

        data = lgb.Dataset(x, label=y, free_raw_data=False)
        return lgb.train(_lgb_params(self.config), data, num_boost_round=self.config.num_boost_round)

    def fit_features(
        self,
        x: pd.DataFrame,
        y: np.ndarray,
        x_valid: pd.DataFrame | None = None,
        y_valid: np.ndarray | None = None,
    ) -> Matcher:
        """Train on a feature table; the threshold maximises F1 on the validation rows, or on
        out-of-fold scores of ``cv_folds`` folds of the training rows when none are given."""
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(y).astype(int)
        check_labels(y, "training pairs")
        self.feature_names = list(x.columns)
        self.booster = self._train(x, y)
        if x_valid is not None and y_valid is not None:
            self.threshold = best_f1_threshold(y_valid, self.score_features(x_valid))
            return self
        out_of_fold = np.zeros(len(y))
        folds = StratifiedKFold(self.config.cv_folds, shuffle=True, random_state=self.config.seed)
        for train_rows, test_rows in folds.split(x, y):
            booster = self._train(x.iloc[train_rows], y[train_rows])
            out_of_fold[test_rows] = booster.predict(x.iloc[test_rows], num_threads=self.config.threads)
        self.threshold = best_f1_threshold(y, out_of_fold)
        return self

    # ----- prediction -------------------------------------------------------------------------
    def score_pairs(
        self, enc: EncodedCatalogs, left_idx: np.ndarray, right_idx: np.ndarray
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """Match probabilities of row pairs of encoded catalogs, and the feature rows behind them.

        With a score-context stage the blocking candidates are scored too, since a pair's context
        is the scores of its listings' other candidates.
        """
        if not self.fold_boosters:
            x = pair_features(enc, left_idx, right_idx)
            return self.score_features(x), x
        candidates = candidate_pairs(list(enc.neighbours.values()))
        pool_left, pool_right, (rows, candidate_rows) = union_pairs(
            [(left_idx, right_idx), (candidates["left_idx"].to_numpy(), candidates["right_idx"].to_numpy())]
        )
        x_pool = pair_features(enc, pool_left, pool_right)
        folds = left_folds(len(enc.left), len(self.fold_boosters), self.config.seed)
        scores = self._stage1_scores(self.fold_boosters, folds, x_pool, pool_left)
        context = self._context(rows, candidate_rows, pool_left, pool_right, scores)
        x = x_pool.iloc[rows].reset_index(drop=True).join(context)
        return self.score_features(x), x

    def score_features(self, x: pd.DataFrame) -> np.ndarray:
        """Match probabilities of feature rows, (n,)."""
        if self.booster is None:
            raise ValueError("the matcher is not trained: call fit() or Matcher.load()")
        if list(x.columns) != self.feature_names:
            extra = sorted(set(x.columns) - set(self.feature_names))
            missing = sorted(set(self.feature_names) - set(x.columns))
            raise ValueError(f"feature columns differ from training: missing {missing}, extra {extra}")
        return self.booster.predict(x, num_threads=self.config.threads)

    def explain_features(self, x: pd.DataFrame, top: int = 3) -> list[str]:
        """Why each pair was accepted or rejected: the ``top`` features that pushed its score most
        towards the decision taken, as "name=value (+contribution)".

        Contributions are TreeSHAP values in log-odds (Lundberg et al., 2020); with the bias they
        add up to the pair's raw score, so a rejected pair lists its most negative features.
        """
        contributions = self.booster.predict(x, pred_contrib=True, num_threads=self.config.threads)
        bias, contributions = contributions[:, -1], contributions[:, :-1]  # (n,), (n, n_features)
        accepted = 1 / (1 + np.exp(-(bias + contributions.sum(axis=1)))) >= self.threshold
        values = x.to_numpy()
        out = []
        for row, contribution in enumerate(contributions):
            towards = contribution if accepted[row] else -contribution
            order = np.argsort(-towards, kind="stable")[:top]
            out.append(
                "; ".join(
                    f"{self.feature_names[j]}={values[row, j]:.3g} ({contribution[j]:+.2f})" for j in order
                )
            )
        return out

    def predict_pairs(
        self,
        left: pd.DataFrame,
        right: pd.DataFrame,
        pairs: pd.DataFrame | None = None,
        one_to_one: bool = False,
        explain: int = 0,
        enc: EncodedCatalogs | None = None,
    ) -> pd.DataFrame:
        """Score pairs between two catalogs and decide matches.

        Args:
            left, right: catalogs in the listing schema.
            pairs: ``left_id, right_id`` to score; None scores the blocking candidates.
            one_to_one: keep at most one match per listing (greedy by score).
            explain: add a ``why`` column with this many top features per pair (0: none).
            enc: catalogs already encoded with ``encode`` (skips that work).

        Returns:
            ``left_id, right_id, score, match`` (+ ``why``), sorted by descending score.
        """
        enc = enc or self.encode(left, right)
        if pairs is None:
            candidates = self.candidates(enc)
            left_idx, right_idx = candidates["left_idx"].to_numpy(), candidates["right_idx"].to_numpy()
        else:
            left_idx, right_idx = self.pair_rows(enc, pairs)
        scores, x = self.score_pairs(enc, left_idx, right_idx)
        match = scores >= self.threshold
        if one_to_one:
            keep = np.flatnonzero(match)
            match[keep] = assign_one_to_one(left_idx[keep], right_idx[keep], scores[keep])
        result = pd.DataFrame(
            {
                "left_id": enc.left["id"].to_numpy()[left_idx],
                "right_id": enc.right["id"].to_numpy()[right_idx],
                "score": scores,
                "match": match,
            }
        )
        if explain:
            result["why"] = self.explain_features(x, top=explain)
        return result.sort_values("score", ascending=False, ignore_index=True, kind="stable")

    # ----- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the matcher as one JSON file, atomically (a temporary file moved into place)."""
        if self.booster is None:
            raise ValueError("the matcher is not trained: nothing to save")
        path = Path(path)
        document = {
            "format": FORMAT,
            "config": asdict(self.config),
            "threshold": self.threshold,
            "feature_names": self.feature_names,
            "booster": self.booster.model_to_string(),
            "fold_boosters": [booster.model_to_string() for booster in self.fold_boosters],
            "selection": self.selection,
        }
        write_text_atomic(path, json.dumps(document))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Matcher:
        """Read a matcher written by ``save``; raises ValueError naming the file when it is not one."""
        import lightgbm as lgb

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not a matcher file ({error})") from error
        if not isinstance(document, dict) or document.get("format") not in READABLE_FORMATS:
            raise ValueError(f"{path}: field 'format': expected one of {READABLE_FORMATS}")
        config = dict(document["config"])
        config["fields"] = tuple(config["fields"])
        matcher = cls(MatcherConfig(**config))
        matcher.threshold = float(document["threshold"])
        matcher.feature_names = list(document["feature_names"])
        matcher.booster = lgb.Booster(model_str=document["booster"])
        matcher.fold_boosters = [lgb.Booster(model_str=text) for text in document.get("fold_boosters", [])]
        matcher.selection = dict(document.get("selection", {}))
        return matcher
