"""The saved recommender: a folder of data (JSON, arrays, tensors), never pickled code.

Layout of a saved folder (format version ``FORMAT_VERSION``)::

    manifest.json        format name and version, model name, constructor arguments, protocol,
                         sizes, and the sha256 of every other file
    arrays.npz           train and known matrices (CSR parts), user and item ids, content
                         features, array-valued constructor arguments (read with allow_pickle=False)
    weights.safetensors  the model's state_dict (torch models only)
    index/               optional FAISS item index (``recsys.index.ItemIndex``)

A model is rebuilt from ``MODELS``, one explicit name -> class dict: the class is constructed from
the manifest's arguments plus the data inputs it declares (the training matrix, the features), and
its weights are loaded strictly. Loading checks the format version and every checksum first, so
a file of another version, a truncated file or one edited after saving is refused with a message
saying what to do, before anything is built. The old format (one torch pickle, ``recommender.pt``)
is recognised and refused: unpickling it would run code from the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.torch import load_file, save_file

from recsys.data import Interactions
from recsys.models.bpr import BPR
from recsys.models.cm3 import CM3, CM3Config
from recsys.models.cml import CML
from recsys.models.content_cml import ContentCML
from recsys.models.itemknn import ItemKNN
from recsys.models.lightgcn import LightGCN
from recsys.models.popularity import MostPopular
from recsys.models.vbpr import VBPR
from recsys.storage import atomic_dir, file_sha256

FORMAT = "alignrec-recommender"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
WEIGHTS = "weights.safetensors"
INDEX_DIR = "index"

# name -> (class, data inputs its constructor takes besides init_args()).
MODELS: dict[str, tuple[type, tuple[str, ...]]] = {
    "pop": (MostPopular, ("train",)),
    "itemknn": (ItemKNN, ("train",)),
    "bpr": (BPR, ()),
    "lightgcn": (LightGCN, ("train_csr",)),
    "cml": (CML, ()),
    "vbpr": (VBPR, ("features",)),
    "content_cml": (ContentCML, ("features",)),
    "cm3": (CM3, ("train_csr", "features")),
}
CONTENT_MODELS = tuple(name for name, (_, inputs) in MODELS.items() if "features" in inputs)


class ArtifactError(ValueError):
    """A saved recommender that cannot be read: wrong format or version, damaged or incomplete."""


def model_name(model: object) -> str:
    """The ``MODELS`` key of a model instance."""
    for name, (cls, _) in MODELS.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not a saveable model; known: {sorted(MODELS)}")


@dataclass
class Artifact:
    """Everything a saved folder holds, in memory."""

    model: object
    train: sp.csr_matrix  # (U, I) training interactions (what graph models were built on)
    known: sp.csr_matrix  # (U, I) items excluded from recommendations by default (train + valid)
    user_ids: np.ndarray
    item_ids: np.ndarray
    features: list[np.ndarray] | None  # content features per modality, (I, d_m), content models only
    protocol: dict[str, object]


def build_model(
    name: str, args: dict[str, object], train: sp.csr_matrix, features: list[np.ndarray] | None
) -> object:
    """Construct model ``name`` from its arguments and data inputs (weights not loaded)."""
    if name not in MODELS:
        raise ArtifactError(f"unknown model {name!r}; this alignrec knows {sorted(MODELS)}")
    cls, inputs = MODELS[name]
    kwargs = dict(args)
    if "train" in inputs:
        kwargs["train"] = interactions_from_csr(train)
    if "train_csr" in inputs:
        kwargs["train_csr"] = train
    if "features" in inputs:
        if not features:
            raise ArtifactError(f"model {name!r} needs content features, none were saved")
        kwargs["features"] = features
    if cls is CM3:
        kwargs["config"] = CM3Config(**kwargs["config"])
    return cls(**kwargs)


def interactions_from_csr(matrix: sp.csr_matrix) -> Interactions:
    """A (U, I) binary matrix as Interactions (one event per stored entry)."""
    coo = matrix.tocoo()
    return Interactions(
        users=coo.row.astype(np.int64),
        items=coo.col.astype(np.int64),
        num_users=matrix.shape[0],
        num_items=matrix.shape[1],
    )


def _plain_ids(ids: np.ndarray) -> np.ndarray:
    """Ids as a numeric or unicode array (object arrays would need pickle to store)."""
    ids = np.asarray(ids)
    return ids.astype(str) if ids.dtype == object else ids


def _csr_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    matrix = sp.csr_matrix(matrix)
    return {
        f"{prefix}.data": matrix.data.astype(np.float32),
        f"{prefix}.indices": matrix.indices.astype(np.int64),
        f"{prefix}.indptr": matrix.indptr.astype(np.int64),
        f"{prefix}.shape": np.asarray(matrix.shape, dtype=np.int64),
    }


def _csr_from(arrays: dict[str, np.ndarray], prefix: str) -> sp.csr_matrix:
    shape = tuple(int(x) for x in arrays[f"{prefix}.shape"])
    parts = (arrays[f"{prefix}.data"], arrays[f"{prefix}.indices"], arrays[f"{prefix}.indptr"])
    return sp.csr_matrix(parts, shape=shape)


def save_artifact(artifact: Artifact, path: Path, index: object | None = None) -> Path:
    """Write ``artifact`` (and an optional ``ItemIndex``) as a folder, atomically: the folder at
    ``path`` is either the previous complete version or the new complete one."""
    path = Path(path)
    name = model_name(artifact.model)
    args = artifact.model.init_args()
    arrays = {
        **_csr_arrays("train", artifact.train),
        **_csr_arrays("known", artifact.known),
        "user_ids": _plain_ids(artifact.user_ids),
        "item_ids": _plain_ids(artifact.item_ids),
    }
    for m, matrix in enumerate(artifact.features or []):
        arrays[f"features.{m}"] = np.ascontiguousarray(matrix, dtype=np.float32)
    json_args = {}
    for key, value in args.items():
        if isinstance(value, np.ndarray):
            arrays[f"args.{key}"] = value
        else:
            json_args[key] = value
    with atomic_dir(path) as tmp:
        np.savez(tmp / ARRAYS, **arrays)
        if isinstance(artifact.model, torch.nn.Module):
            state = {k: v.detach().contiguous() for k, v in artifact.model.state_dict().items()}
            save_file(state, str(tmp / WEIGHTS))
        if index is not None:
            index.save(tmp / INDEX_DIR)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": name,
            "args": json_args,
            "num_users": int(artifact.train.shape[0]),
            "num_items": int(artifact.train.shape[1]),
            "num_modalities": len(artifact.features or []),
            "protocol": artifact.protocol,
            "files": {p.relative_to(tmp).as_posix(): file_sha256(p) for p in files},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return path


def read_manifest(path: Path) -> dict[str, object]:
    """The checked manifest of a saved folder (format, version, checksums of every file)."""
    path = Path(path)
    if path.is_file() or (path / "recommender.pt").is_file():
        old = path if path.is_file() else path / "recommender.pt"
        raise ArtifactError(
            f"{old}: a recommender saved as a torch pickle (the format before alignrec's data-only "
            "folders). It is not loaded because unpickling runs code from the file. Retrain with "
            "`alignrec train` to write the current format."
        )
    manifest_path = path / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path}: no saved recommender there (run `alignrec train` first)")
    if not manifest_path.is_file():
        raise ArtifactError(f"{manifest_path}: missing; {path} is not a saved recommender folder")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{manifest_path}: not valid JSON ({error}); the folder is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{manifest_path}: not an {FORMAT} manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{manifest_path}: format version {version}, but this alignrec reads version "
            f"{FORMAT_VERSION}; load it with the alignrec release that wrote it, or retrain"
        )
    for relative, expected in manifest["files"].items():
        file = path / relative
        if not file.is_file():
            raise ArtifactError(f"{file}: listed in the manifest but missing; the folder is incomplete")
        if file_sha256(file) != expected:
            raise ArtifactError(
                f"{file}: checksum differs from the manifest (truncated or modified after saving); "
                "save the recommender again or retrain"
            )
    return manifest


def load_artifact(path: Path) -> tuple[Artifact, dict[str, object]]:
    """Read a folder written by :func:`save_artifact`; returns the artifact and its manifest."""
    path = Path(path)
    manifest = read_manifest(path)
    with np.load(path / ARRAYS, allow_pickle=False) as handle:
        arrays = {key: handle[key] for key in handle.files}
    train, known = _csr_from(arrays, "train"), _csr_from(arrays, "known")
    features = [arrays[f"features.{m}"] for m in range(int(manifest["num_modalities"]))] or None
    args = dict(manifest["args"])
    args.update({key.removeprefix("args."): arrays[key] for key in arrays if key.startswith("args.")})
    model = build_model(str(manifest["model"]), args, train, features)
    if isinstance(model, torch.nn.Module):
        try:
            model.load_state_dict(load_file(str(path / WEIGHTS)), strict=True)
        except RuntimeError as error:
            raise ArtifactError(
                f"{path / WEIGHTS}: does not fit model {manifest['model']!r} ({error})"
            ) from None
        model.eval()
    artifact = Artifact(
        model=model,
        train=train,
        known=known,
        user_ids=arrays["user_ids"],
        item_ids=arrays["item_ids"],
        features=features,
        protocol=dict(manifest["protocol"]),
    )
    return artifact, manifest
