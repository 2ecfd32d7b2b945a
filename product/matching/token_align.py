"""Token-level soft alignment of two titles from frozen MiniLM token vectors (late interaction).

ColBERT (Khattab & Zaharia, SIGIR 2020) scores a query against a document by matching each query
token to its most similar document token; BERTScore (Zhang et al., ICLR 2020) averages those greedy
matches in both directions into a precision, a recall and their harmonic mean, optionally weighted
by inverse document frequency. For a listing pair, with unit token vectors ``a_i`` (left title) and
``b_j`` (right title)::

    align_lr = mean_i max_j a_i . b_j        align_rl = mean_j max_i a_i . b_j

Unlike one pooled title vector, this keeps a single unmatched word visible ("upgrade", "mac", a
different model number): its best match stays low however similar the rest is. Each title is
encoded once (``encode_tokens``, the only function here that needs the model); ``alignment_features``
is plain numpy over padded token matrices, vectorised over batches of pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from product.encoders.cache import content_key
from recsys.storage import atomic_path

MODEL_KEY = "all-MiniLM-L6-v2/tokens"
UNMATCHED_BELOW = 0.5  # a token whose best match is below this cosine counts as unmatched
FEATURES = (
    "token_align_min",
    "token_align_max",
    "token_align_f",
    "token_align_idf_min",
    "token_align_idf_max",
    "token_align_idf_f",
    "token_unmatched_min",
    "token_unmatched_max",
    "token_unmatched_idf_max",
    "token_worst_min",
)


@dataclass
class TokenMatrix:
    """Token vectors of a catalog's titles: a flat table and one padded row of indices per title."""

    vectors: np.ndarray  # (T + 1, d) float16 unit rows; the last row is zeros (padding)
    index: np.ndarray  # (n, L) int64 rows of ``vectors``; padding points at the last row
    ids: np.ndarray  # (n, L) int64 word-piece ids, -1 for padding

    @property
    def mask(self) -> np.ndarray:
        return self.ids >= 0  # (n, L)


def token_matrix(vectors: list[np.ndarray], ids: list[np.ndarray], max_tokens: int = 32) -> TokenMatrix:
    """Pack per-title token vectors ``(n_i, d)`` and word-piece ids ``(n_i,)`` into a TokenMatrix,
    keeping the first ``max_tokens`` tokens of each title and normalising every vector."""
    if len(vectors) != len(ids):
        raise ValueError(f"got {len(vectors)} token matrices but {len(ids)} id arrays")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    dim = vectors[0].shape[1] if vectors else 1
    kept = [np.asarray(v, dtype=np.float32)[:max_tokens] for v in vectors]
    lengths = np.array([len(v) for v in kept], dtype=np.int64)
    flat = np.concatenate([*kept, np.zeros((1, dim), np.float32)])  # (T + 1, d)
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)
    width = max(int(lengths.max(initial=0)), 1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(width)
    present = position[None, :] < lengths[:, None]  # (n, L)
    index = np.where(present, starts[:, None] + position[None, :], len(flat) - 1)
    padded_ids = np.full((len(kept), width), -1, dtype=np.int64)
    for row, (piece_ids, length) in enumerate(zip(ids, lengths, strict=True)):
        padded_ids[row, :length] = np.asarray(piece_ids)[:length]
    return TokenMatrix(flat.astype(np.float16), index, padded_ids)


def token_idf(left: TokenMatrix, right: TokenMatrix) -> dict[int, float]:
    """Smoothed IDF of each word piece over both catalogs' titles, log((N + 1) / (df + 1))
    as in BERTScore."""
    titles = len(left.ids) + len(right.ids)
    df: dict[int, int] = {}
    for matrix in (left, right):
        rows, cols = np.nonzero(matrix.mask)
        pieces = np.unique(np.stack([rows, matrix.ids[rows, cols]], axis=1), axis=0)[:, 1]
        for piece, count in zip(*np.unique(pieces, return_counts=True), strict=True):
            df[int(piece)] = df.get(int(piece), 0) + int(count)
    return {piece: math.log((titles + 1) / (count + 1)) for piece, count in df.items()}


def _weights(ids: np.ndarray, idf: dict[int, float]) -> np.ndarray:
    """IDF of each token of padded ids (0 for padding), same shape as ``ids``."""
    pieces, inverse = np.unique(ids, return_inverse=True)
    table = np.array([idf.get(int(p), 0.0) if p >= 0 else 0.0 for p in pieces], dtype=np.float32)
    return table[inverse.reshape(ids.shape)]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _harmonic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x + y > 0, 2 * x * y / (x + y), 0.0)


def alignment_features(
    left: TokenMatrix,
    right: TokenMatrix,
    left_idx: np.ndarray,
    right_idx: np.ndarray,
    unmatched_below: float = UNMATCHED_BELOW,
    batch_size: int = 2048,
) -> dict[str, np.ndarray]:
    """Soft-alignment features of pairs of titles (``left_idx[i]``, ``right_idx[i]``), each (n_pairs,).

    ``token_align_*``: mean best-match cosine of one side's tokens in the other title (BERTScore
    recall / precision), min and max over the two directions and their harmonic mean (``_f``);
    ``_idf`` variants weight tokens by IDF over both catalogs' titles. ``token_unmatched_*``: share
    of a side's tokens whose best match is below ``unmatched_below`` (``_idf_max``: the larger
    IDF-weighted share). ``token_worst_min``: the lowest best-match cosine of any token on either
    side. NaN where a title has no tokens.
    """
    li, ri = np.asarray(left_idx, dtype=np.int64), np.asarray(right_idx, dtype=np.int64)
    idf = token_idf(left, right)
    weights = (_weights(left.ids, idf), _weights(right.ids, idf))
    sums: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(li), batch_size):
        bl, br = li[start : start + batch_size], ri[start : start + batch_size]
        mask_l, mask_r = left.mask[bl], right.mask[br]  # (B, La), (B, Lb)
        width_l = max(int(mask_l.sum(axis=1).max(initial=0)), 1)
        width_r = max(int(mask_r.sum(axis=1).max(initial=0)), 1)
        mask_l, mask_r = mask_l[:, :width_l], mask_r[:, :width_r]
        a = left.vectors[left.index[bl, :width_l]].astype(np.float32)  # (B, La, d)
        b = right.vectors[right.index[br, :width_r]].astype(np.float32)  # (B, Lb, d)
        sims = np.matmul(a, b.transpose(0, 2, 1))  # (B, La, Lb) cosines
        best_l = np.where(mask_r[:, None, :], sims, -np.inf).max(axis=2)  # (B, La)
        best_r = np.where(mask_l[:, :, None], sims, -np.inf).max(axis=1)  # (B, Lb)
        for side, best, mask, weight in (
            ("l", best_l, mask_l, weights[0][bl, :width_l]),
            ("r", best_r, mask_r, weights[1][br, :width_r]),
        ):
            best = np.where(mask & np.isfinite(best), best, 0.0)  # -inf: the other title is empty
            low = mask & (best < unmatched_below)
            parts = {
                "count": mask.sum(axis=1),
                "align": best.sum(axis=1),
                "weight": weight.sum(axis=1),
                "align_idf": (weight * best).sum(axis=1),
                "unmatched": low.sum(axis=1),
                "unmatched_idf": (weight * low).sum(axis=1),
                "worst": np.where(mask, best, np.inf).min(axis=1),
            }
            for name, value in parts.items():
                sums.setdefault(f"{name}_{side}", []).append(value.astype(np.float64))
    if not sums:
        return {name: np.zeros(0, dtype=np.float32) for name in FEATURES}
    s = {name: np.concatenate(values) for name, values in sums.items()}
    align = [_ratio(s[f"align_{side}"], s[f"count_{side}"]) for side in "lr"]
    align_idf = [_ratio(s[f"align_idf_{side}"], s[f"weight_{side}"]) for side in "lr"]
    unmatched = [_ratio(s[f"unmatched_{side}"], s[f"count_{side}"]) for side in "lr"]
    unmatched_idf = [_ratio(s[f"unmatched_idf_{side}"], s[f"weight_{side}"]) for side in "lr"]
    worst = np.minimum(s["worst_l"], s["worst_r"])
    both = (s["count_l"] > 0) & (s["count_r"] > 0)  # an empty title aligns with nothing: NaN
    out = {
        "token_align_min": np.minimum(*align),
        "token_align_max": np.maximum(*align),
        "token_align_f": _harmonic(*align),
        "token_align_idf_min": np.minimum(*align_idf),
        "token_align_idf_max": np.maximum(*align_idf),
        "token_align_idf_f": _harmonic(*align_idf),
        "token_unmatched_min": np.minimum(*unmatched),
        "token_unmatched_max": np.maximum(*unmatched),
        "token_unmatched_idf_max": np.maximum(*unmatched_idf),
        "token_worst_min": worst,
    }
    return {name: np.where(both, values, np.nan).astype(np.float32) for name, values in out.items()}


def encode_tokens(
    texts: list[str], cache_root: Path | None = None, batch_size: int = 128, precision: str = "auto"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """MiniLM token vectors ``(n_i, 384)`` (float16, not normalised) and word-piece ids ``(n_i,)``
    of each text, without the [CLS] and [SEP] tokens (an empty text has none).

    ``cache_root`` keeps the result of one list of texts in one file, keyed by a hash of the
    model, precision and texts, so a re-run on the same catalog skips the encoder.
    """
    import torch

    from product.text_encoder import DIM, load_text_model, resolve_precision

    precision = resolve_precision(precision)
    if not texts:
        return [], []
    path = None
    if cache_root is not None:
        key = content_key(MODEL_KEY, precision, *texts)
        path = Path(cache_root) / "all-MiniLM-L6-v2-tokens" / f"{key}.npz"
        if path.is_file():
            with np.load(path) as stored:
                bounds = np.cumsum(stored["lengths"])[:-1]
                return np.split(stored["vectors"], bounds), np.split(stored["ids"], bounds)
    cleaned = [text.strip() for text in texts]
    present = [i for i, text in enumerate(cleaned) if text]
    model = load_text_model()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        outputs = model.encode([cleaned[i] for i in present], batch_size=batch_size, output_value=None)
    dim = outputs[0]["token_embeddings"].shape[1] if outputs else DIM
    vectors = [np.zeros((0, dim), dtype=np.float16) for _ in cleaned]
    ids = [np.zeros(0, dtype=np.int64) for _ in cleaned]
    for i, output in zip(present, outputs, strict=True):
        keep = output["attention_mask"].bool()
        vectors[i] = output["token_embeddings"][keep][1:-1].float().numpy().astype(np.float16)  # no CLS/SEP
        ids[i] = output["input_ids"][keep][1:-1].numpy().astype(np.int64)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle,
                vectors=np.concatenate(vectors),
                ids=np.concatenate(ids),
                lengths=np.array([len(v) for v in vectors]),
            )
    return vectors, ids
