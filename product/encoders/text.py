"""Product text -> all-MiniLM-L6-v2 vectors (384-d), with a content-hash cache and a missing mask.

Missing text (None, empty or whitespace only) is not embedded: its row is zeros and its mask is
False, so a model can tell "no description" apart from "a description that embeds near zero".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from product.encoders.cache import VectorCache, content_key
from product.text_encoder import DIM, encode_texts, resolve_precision

MODEL_NAME = "all-MiniLM-L6-v2"

DEFAULT_BATCH_SIZE = 128
# torch threads are set once by the entry point (``alignrec encode --threads``, a benchmark's main),
# never here. Measured on the shared 2-core dev machine (benchmarks/multimodal.py, 10,000
# Walmart-Amazon titles, load ~5): 1 thread 86 s wall, 2 threads 40 s wall, both at batch 128.
DEFAULT_THREADS = 2


def text_cache(root: Path) -> VectorCache:
    """The text encoder's cache folder under ``root``."""
    return VectorCache(Path(root) / MODEL_NAME, DIM)


def encode_product_texts(
    texts: list[str | None],
    cache: VectorCache | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    precision: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Embed product texts, reusing cached vectors.

    Returns ``(vectors, mask)``: float32 (N, 384) unit rows (zeros where text is missing) and
    bool (N,) that is True where the text was present. ``precision`` as in
    :func:`product.text_encoder.encode_texts`; the cache keeps float32 and bfloat16 vectors apart.
    """
    precision = resolve_precision(precision)
    model_key = MODEL_NAME if precision == "fp32" else f"{MODEL_NAME}/{precision}"
    cleaned = [text.strip() if isinstance(text, str) else "" for text in texts]
    mask = np.array([bool(text) for text in cleaned], dtype=bool)
    vectors = np.zeros((len(cleaned), DIM), dtype=np.float32)  # (N, 384)
    present = np.flatnonzero(mask)
    keys = [content_key(model_key, cleaned[i]) for i in present]
    cached = cache.get_many(keys) if cache is not None else {}
    for pos, vector in cached.items():
        vectors[present[pos]] = vector
    todo = [pos for pos in range(len(present)) if pos not in cached]
    # Encode in slices so the progress bar moves and the cache grows even if the run is stopped.
    step = max(batch_size * 8, 1)
    for start in tqdm(
        range(0, len(todo), step), disable=None if progress else True, desc="text", unit="chunk"
    ):
        part = todo[start : start + step]
        texts_part = [cleaned[present[pos]] for pos in part]
        new = encode_texts(texts_part, batch_size=batch_size, precision=precision)
        vectors[present[part]] = new
        if cache is not None:
            cache.put_many([keys[pos] for pos in part], new)
    return vectors, mask
