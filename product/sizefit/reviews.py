"""Review text as vectors: one unit vector per review, pooled from its sentences and its summary.

Reviews are embedded sentence by sentence (all-MiniLM-L6-v2 through ``product.text_encoder``)
and averaged, rather than embedded whole: the part of a review that tells the fit ("runs small,
size up") is usually one sentence among several about colour, fabric and the occasion, and a
sentence embedding keeps it from being diluted or cut off at the encoder's length limit.
Sentences are embedded once each, however many reviews repeat them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch

from product.sizefit.model import ordinal_log_proba
from product.text_encoder import DIM, encode_texts

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a review (split after . ! ? and at line breaks), stripped, empties dropped."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def embed_reviews(
    texts: list[str], summaries: list[str], batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Embed reviews as the mean of their sentence (and summary) embeddings.

    Args:
        texts: review bodies, "" where there is none.
        summaries: review titles, aligned with ``texts``, "" where there is none.

    Returns:
        vectors: (N, 384) float32, L2-normalised; zero rows where a review has no text at all.
        has_review: (N,) bool.
    """
    if len(texts) != len(summaries):
        raise ValueError(f"{len(texts)} review texts but {len(summaries)} summaries")
    pieces = [split_sentences(t) + split_sentences(s) for t, s in zip(texts, summaries, strict=True)]
    unique = sorted({sentence for review in pieces for sentence in review})
    position = {sentence: index for index, sentence in enumerate(unique)}
    sentence_vectors = encode_texts(unique, batch_size=batch_size)  # (S, 384)

    vectors = np.zeros((len(pieces), DIM), dtype=np.float32)
    for row, review in enumerate(pieces):
        if review:
            vectors[row] = sentence_vectors[[position[sentence] for sentence in review]].mean(axis=0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    has_review = norms[:, 0] > 0
    vectors[has_review] /= norms[has_review]
    return vectors, has_review


def embed_frame_reviews(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``embed_reviews`` on a canonical frame's ``review_text`` and ``review_summary`` columns."""
    return embed_reviews(frame["review_text"].tolist(), frame["review_summary"].tolist())


def review_fit_signals(
    vectors: np.ndarray,
    has_review: np.ndarray,
    labels: np.ndarray,
    folds: int = 5,
    l2: float = 1e-4,
    seed: int = 0,
) -> np.ndarray:
    """What each review says about its own purchase's fit, read by linear probes on the review
    vector that were trained on the reported labels of the other folds.

    Two probes: a multinomial one gives P(small), P(fit), P(large); an ordinal one (one linear
    score with two cut-points) gives a score of how large the item felt, which also keeps the
    severity ("could not zip it up" against "a bit snug") that three probabilities flatten.
    Cross-fitting keeps a review's signal from memorising its own label, so the signal carries
    only what the text says (a "bit snug" review under a ``fit`` label keeps its lean to small).

    Args:
        vectors: (N, 384) review vectors; has_review: (N,) bool; labels: (N,) in {0, 1, 2}.
        folds: cross-fitting folds. l2: weight of the probes' L2 penalty.

    Returns:
        (N, 4) float32: P(small), P(fit), P(large), score; zero rows where there is no review.
    """
    signals = np.zeros((len(vectors), 4), dtype=np.float32)
    rows = np.flatnonzero(has_review)
    if len(rows) < 2 * folds:
        return signals  # too few reviews to learn what they say
    x = torch.from_numpy(np.ascontiguousarray(vectors[rows], dtype=np.float32))  # (R, 384)
    y = torch.from_numpy(np.asarray(labels)[rows].astype(np.int64))  # (R,)
    fold = torch.from_numpy(np.random.default_rng(seed).permutation(len(rows)) % folds)  # (R,)
    with torch.no_grad():
        for k in range(folds):
            train, held = fold != k, fold == k
            with torch.enable_grad():
                classes = torch.nn.Linear(x.shape[1], 3)
                _fit_probe(classes, [], x[train], y[train], l2, lambda out: torch.log_softmax(out, dim=1))
                score, cuts = torch.nn.Linear(x.shape[1], 1), torch.nn.Parameter(torch.tensor([-1.0, 0.0]))
                _fit_probe(score, [cuts], x[train], y[train], l2, _ordinal)
            signals[rows[held.numpy()], :3] = torch.softmax(classes(x[held]), dim=1).numpy()
            signals[rows[held.numpy()], 3] = score(x[held])[:, 0].numpy()
    return signals


def _ordinal(out: torch.Tensor, cuts: torch.Tensor) -> torch.Tensor:
    """Ordinal log-probabilities of a one-column score; ``cuts`` = (first cut, log of the gap)."""
    return ordinal_log_proba(out[:, 0], torch.stack([cuts[0], cuts[0] + cuts[1].exp()]))


def _fit_probe(
    probe: torch.nn.Linear, extra: list, x: torch.Tensor, y: torch.Tensor, l2: float, log_proba
) -> None:
    """Fit ``probe`` (and ``extra`` parameters) by L-BFGS on NLL(log_proba(probe(x), *extra)) + L2."""
    optimizer = torch.optim.LBFGS(
        [*probe.parameters(), *extra], lr=1.0, max_iter=200, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(log_proba(probe(x), *extra), y) + l2 * probe.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
