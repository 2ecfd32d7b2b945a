"""An on-disk vector cache keyed by content hash, so re-runs and the next model reuse vectors.

Each encoder owns one folder (``<root>/<encoder name>/``). A write adds one ``.npz`` chunk holding
the new keys and their vectors, written to a temporary file and moved into place, so concurrent
writers never clobber each other and a killed run leaves no half-written chunk behind.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import numpy as np

from recsys.storage import atomic_path


def content_key(*parts: str | bytes) -> str:
    """SHA-256 hex digest of the parts (strings are UTF-8 encoded), separated unambiguously."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


class VectorCache:
    """Vectors of one encoder, keyed by content hash and stored under ``folder``."""

    def __init__(self, folder: Path, dim: int):
        self.folder = Path(folder)
        self.dim = dim
        self._vectors: dict[str, np.ndarray] = {}
        self._loaded_chunks: set[str] = set()

    def _refresh(self) -> None:
        """Read chunks written since the last look (by this or another process)."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("chunk-*.npz")):
            if path.name in self._loaded_chunks:
                continue
            with np.load(path) as chunk:
                keys, vectors = chunk["keys"], chunk["vectors"]
            if vectors.shape[1:] != (self.dim,):
                raise ValueError(
                    f"{path}: field 'vectors' has shape {vectors.shape}, expected (N, {self.dim})"
                )
            self._vectors.update(zip(keys.tolist(), vectors, strict=True))
            self._loaded_chunks.add(path.name)

    def __len__(self) -> int:
        self._refresh()
        return len(self._vectors)

    def get_many(self, keys: list[str]) -> dict[int, np.ndarray]:
        """Cached vectors by position in ``keys``; positions not cached are absent."""
        self._refresh()
        return {pos: self._vectors[key] for pos, key in enumerate(keys) if key in self._vectors}

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (N, dim) under ``keys`` as one new chunk (atomic)."""
        if len(keys) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.dim):
            raise ValueError(f"vectors shape {vectors.shape} does not match {len(keys)} keys x {self.dim}")
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"chunk-{uuid.uuid4().hex}.npz"
        with atomic_path(self.folder / name) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, keys=np.asarray(keys), vectors=vectors)
        self._vectors.update(zip(keys, vectors, strict=True))
        self._loaded_chunks.add(name)
