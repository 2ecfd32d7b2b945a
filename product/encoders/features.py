"""Per-item feature matrices, one per modality, with masks of which items have that input.

On disk (MMRec style, one folder): ``item_ids.txt`` (one id per line, row order), and per
modality ``<name>_feat.npy`` (float32, N x d) plus ``<name>_mask.npy`` (bool, N), and
``report.json`` with the missing-input rates. A folder of pre-computed ``*_feat.npy`` files without
masks loads too: an all-zero row is then read as missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsys.storage import atomic_path, write_text_atomic


@dataclass
class ItemFeatures:
    """Row ``r`` of every matrix belongs to ``item_ids[r]``."""

    item_ids: list[str]
    vectors: dict[str, np.ndarray]  # modality -> (N, d) float32
    masks: dict[str, np.ndarray]  # modality -> (N,) bool, True where the input was present
    missing_reasons: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        for name, matrix in self.vectors.items():
            if matrix.ndim != 2 or matrix.shape[0] != n:
                raise ValueError(f"modality {name!r}: matrix shape {matrix.shape}, expected ({n}, d)")
            if self.masks[name].shape != (n,):
                raise ValueError(f"modality {name!r}: mask shape {self.masks[name].shape}, expected ({n},)")

    def report(self) -> dict[str, dict]:
        """Per modality: item count, missing count and rate, and the reasons when known."""
        out = {}
        for name, mask in self.masks.items():
            missing = int((~mask).sum())
            out[name] = {
                "items": len(mask),
                "dim": int(self.vectors[name].shape[1]),
                "missing": missing,
                "missing_rate": missing / max(len(mask), 1),
                "reasons": self.missing_reasons.get(name, {}),
            }
        return out

    def reorder(self, item_ids: list[str]) -> ItemFeatures:
        """The rows for ``item_ids`` in that order; raises ValueError naming absent ids."""
        index = {item: row for row, item in enumerate(self.item_ids)}
        absent = [item for item in item_ids if item not in index]
        if absent:
            raise ValueError(f"{len(absent)} item ids have no features, e.g. {absent[:5]}")
        rows = np.array([index[item] for item in item_ids], dtype=np.int64)
        return ItemFeatures(
            list(item_ids),
            {name: matrix[rows] for name, matrix in self.vectors.items()},
            {name: mask[rows] for name, mask in self.masks.items()},
            self.missing_reasons,
        )


def _atomic_save(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


def save_features(features: ItemFeatures, folder: str | Path) -> Path:
    """Write the folder layout described in the module docstring; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "item_ids.txt", "".join(f"{item}\n" for item in features.item_ids))
    for name, matrix in features.vectors.items():
        _atomic_save(folder / f"{name}_feat.npy", matrix.astype(np.float32))
        _atomic_save(folder / f"{name}_mask.npy", features.masks[name])
    write_text_atomic(folder / "report.json", json.dumps(features.report(), indent=2) + "\n")
    return folder


def load_npy(path: str | Path, rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A pre-computed (N, d) feature matrix and its mask (rows that are not all zero)."""
    path = Path(path)
    matrix = np.load(path, allow_pickle=False)
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.floating):
        raise ValueError(f"{path}: expected a 2-d float matrix, got {matrix.dtype} {matrix.shape}")
    if rows is not None and matrix.shape[0] != rows:
        raise ValueError(f"{path}: {matrix.shape[0]} rows, expected {rows} (one per item)")
    if not np.isfinite(matrix).all():
        bad = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise ValueError(f"{path}: row {bad} holds NaN or inf")
    return matrix.astype(np.float32), np.abs(matrix).sum(axis=1) > 0


def load_features(folder: str | Path) -> ItemFeatures:
    """Read a features folder (ours, or MMRec-style ``*_feat.npy`` without masks)."""
    folder = Path(folder)
    paths = sorted(folder.glob("*_feat.npy"))
    if not paths:
        raise ValueError(f"{folder}: no '<modality>_feat.npy' file")
    ids_path = folder / "item_ids.txt"
    item_ids = ids_path.read_text().split("\n")[:-1] if ids_path.exists() else None
    vectors, masks = {}, {}
    for path in paths:
        name = path.name.removesuffix("_feat.npy")
        vectors[name], masks[name] = load_npy(path, None if item_ids is None else len(item_ids))
        mask_path = folder / f"{name}_mask.npy"
        if mask_path.exists():
            masks[name] = np.load(mask_path).astype(bool)
    if item_ids is None:  # MMRec: the row index is the item id
        item_ids = [str(i) for i in range(next(iter(vectors.values())).shape[0])]
    return ItemFeatures(item_ids, vectors, masks)
