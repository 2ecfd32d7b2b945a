"""FAISS indexes over item vectors: build, search (with already-seen items excluded), save, load.

The only module that imports ``faiss``. Functions are array-in/array-out: ``vectors`` (N, d) float32,
``queries`` (Q, d) float32, results ``D`` (Q, k) scores/distances and ``I`` (Q, k) ids, with -1 where
fewer than k items are left. Dot-product models (BPR, LightGCN) use ``metric="ip"``; CML, whose
scores are negative Euclidean distances, uses ``metric="l2"``.

``ItemIndex`` keeps an index together with what ``alignrec index search`` needs to answer in the
caller's terms: the metric, the factory string, the dimension and the original item id of every
internal id, stored in a JSON file beside the index.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import scipy.sparse as sp

from recsys.storage import atomic_path, write_text_atomic

METRICS = {"ip": faiss.METRIC_INNER_PRODUCT, "l2": faiss.METRIC_L2}
INDEX_FILE = "index.faiss"
META_FILE = "index.json"


def _as_matrix(array: np.ndarray, name: str, dim: int | None = None) -> np.ndarray:
    """Validate a (N, d) array of finite numbers and return it as C-contiguous float32."""
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty (N, d) matrix, got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name}: expected dimension {dim}, got {array.shape[1]}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


def _check_factory(factory: str, num_train: int, dim: int) -> None:
    """Raise a clear ValueError for the two ways an IVF/PQ factory fails on too little data."""
    ivf = re.search(r"IVF(\d+)", factory)
    if ivf and num_train < int(ivf.group(1)):
        raise ValueError(
            f"factory {factory!r}: {num_train} training vectors for {ivf.group(1)} IVF lists; "
            f"use at most {num_train} lists (about sqrt(N) is usual) or a Flat/HNSW index"
        )
    pq = re.search(r"(?<![O])PQ(\d+)(?:x(\d+))?", factory)
    if pq:
        m, nbits = int(pq.group(1)), int(pq.group(2) or 8)
        if dim % m:
            raise ValueError(
                f"factory {factory!r}: dimension {dim} is not divisible by the {m} PQ sub-quantizers"
            )
        if num_train < 2**nbits:
            raise ValueError(
                f"factory {factory!r}: PQ with {nbits} bits needs at least {2**nbits} training "
                f"vectors, got {num_train}"
            )


def _set_search_params(index: faiss.Index, nprobe: int | None, ef_search: int | None) -> None:
    # ParameterSpace reaches through IndexIDMap wrappers to the IVF or HNSW index inside; the GPU
    # variant also knows GPU index types and falls back to the CPU rules for the others.
    space = faiss.GpuParameterSpace() if faiss.get_num_gpus() > 0 else faiss.ParameterSpace()
    if nprobe is not None:
        space.set_index_parameter(index, "nprobe", nprobe)
    if ef_search is not None:
        space.set_index_parameter(index, "efSearch", ef_search)


def build_index(
    vectors: np.ndarray,
    metric: str = "ip",
    factory: str = "Flat",
    ids: np.ndarray | None = None,
    *,
    train_size: int | None = None,
    nprobe: int | None = None,
    ef_search: int | None = None,
    ef_construction: int | None = None,
    use_gpu: bool | None = None,
    seed: int = 0,
) -> faiss.Index:
    """Build a FAISS index over item vectors.

    Args:
        vectors: (N, d) item vectors.
        metric: "ip" (inner product, higher is better) or "l2" (Euclidean, lower is better).
        factory: a ``faiss.index_factory`` string: "Flat", "HNSW32", "IVF{nlist},PQ{m}", ...
        ids: (N,) int64 ids returned by ``search`` instead of row positions.
        train_size: train IVF/PQ on this many randomly chosen vectors (default: all).
        nprobe: IVF lists visited per query (faiss default 1).
        ef_search: HNSW search breadth (faiss default 16).
        ef_construction: HNSW build breadth (faiss default 40). On a 1M x 64 clustered catalog the
            default levels off at recall@10 0.967 (HNSW32) whatever ef_search; 200 reaches 0.998
            (``benchmarks/similar_items.py``).
        use_gpu: move the index to every visible GPU; None means "when faiss sees a GPU and the
            index type runs there" (HNSW has no GPU implementation).
        seed: seed for choosing the training sample.
    """
    if metric not in METRICS:
        raise ValueError(f"metric: expected one of {sorted(METRICS)}, got {metric!r}")
    vectors = _as_matrix(vectors, "vectors")
    num, dim = vectors.shape
    num_train = num if train_size is None else min(train_size, num)
    _check_factory(factory, num_train, dim)
    try:
        index = faiss.index_factory(dim, factory, METRICS[metric])
    except RuntimeError as error:
        raise ValueError(f"factory {factory!r}: faiss cannot build it ({error})") from error
    if ids is not None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.shape != (num,) or len(np.unique(ids)) != num:
            raise ValueError(f"ids: expected {num} distinct ids, got shape {ids.shape}")
        index = faiss.IndexIDMap2(index)
    if ef_construction is not None:
        if not factory.startswith("HNSW"):
            raise ValueError(f"ef_construction: factory {factory!r} is not an HNSW index")
        faiss.downcast_index(index.index if ids is not None else index).hnsw.efConstruction = ef_construction
    if not index.is_trained:
        sample = vectors
        if num_train < num:
            sample = vectors[np.random.default_rng(seed).choice(num, num_train, replace=False)]
        index.train(sample)
    if ids is None:
        index.add(vectors)
    else:
        index.add_with_ids(vectors, ids)

    gpus = faiss.get_num_gpus()
    if use_gpu and gpus == 0:
        raise ValueError("use_gpu=True but faiss sees no GPU (is faiss-gpu installed?)")
    if use_gpu and "HNSW" in factory:
        raise ValueError(f"factory {factory!r}: HNSW indexes have no GPU implementation in faiss")
    if use_gpu or (use_gpu is None and gpus > 0 and "HNSW" not in factory):
        index = faiss.index_cpu_to_all_gpus(index)
    _set_search_params(index, nprobe, ef_search)
    return index


def _exclusion_keys(exclude: sp.spmatrix | list[np.ndarray], num_queries: int) -> tuple:
    """Sorted keys ``row * width + id`` of every excluded (query, id) pair, ``width`` (one more
    than the largest excluded id), and the number of excluded ids per query (Q,)."""
    if sp.issparse(exclude):
        csr = sp.csr_array(exclude, copy=True)
        if csr.shape[0] != num_queries:
            raise ValueError(f"exclude: {csr.shape[0]} rows for {num_queries} queries")
        csr.sum_duplicates()  # canonical form: ids sorted and distinct within each row
        csr.eliminate_zeros()
        counts = np.diff(csr.indptr)
        ids = csr.indices.astype(np.int64)
    else:
        if len(exclude) != num_queries:
            raise ValueError(f"exclude: {len(exclude)} id lists for {num_queries} queries")
        lists = [np.unique(np.asarray(items, dtype=np.int64)) for items in exclude]
        counts = np.array([len(items) for items in lists], dtype=np.int64)
        ids = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    width = int(ids.max(initial=-1)) + 1
    if num_queries * width >= 2**62:
        raise ValueError(f"exclude: ids up to {width - 1} are too large to pair with {num_queries} queries")
    rows = np.repeat(np.arange(num_queries, dtype=np.int64), counts)
    return rows * width + ids, width, counts


def search(
    index: faiss.Index,
    queries: np.ndarray,
    k: int,
    exclude: sp.spmatrix | list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k search, optionally skipping ids already seen by each query.

    Args:
        index: an index from ``build_index`` or ``load_index``.
        queries: (Q, d) query (user) vectors.
        k: results per query.
        exclude: ids to skip per query, as a (Q, num_items) sparse matrix (e.g. a user's training
            items; every stored non-zero counts) or a list of Q id arrays. Each query over-fetches
            by its exclusion count (rounded up to a power of two, so that queries are searched in
            a few groups), filters, and keeps the first k ids that remain.

    Returns:
        D (Q, k) float32 scores (ip) or squared distances (l2), I (Q, k) int64 ids; where fewer
        than k ids remain, I is -1 and D is -inf (ip) or +inf (l2).
    """
    if k < 1:
        raise ValueError(f"k: expected a positive integer, got {k}")
    queries = _as_matrix(queries, "queries", dim=index.d)
    fill = -np.inf if index.metric_type == faiss.METRIC_INNER_PRODUCT else np.inf
    if exclude is None:
        D, I = index.search(queries, k)  # (Q, k), (Q, k)
        return np.where(I >= 0, D, fill).astype(np.float32), I
    excluded_keys, width, counts = _exclusion_keys(exclude, len(queries))
    D_out = np.full((len(queries), k), fill, dtype=np.float32)
    I_out = np.full((len(queries), k), -1, dtype=np.int64)
    extra = np.where(counts > 0, 2 ** np.ceil(np.log2(np.maximum(counts, 1))), 0).astype(np.int64)
    fetches = np.minimum(k + extra, max(index.ntotal, 1))
    for fetch in np.unique(fetches):
        members = np.flatnonzero(fetches == fetch)  # queries searched together
        D, I = index.search(queries[members], int(fetch))  # (M, fetch), (M, fetch)
        keys = members[:, None] * width + I
        at = np.minimum(np.searchsorted(excluded_keys, keys), len(excluded_keys) - 1)
        hit = excluded_keys[at] == keys if len(excluded_keys) else np.zeros(keys.shape, dtype=bool)
        keep = (I >= 0) & ~((I < width) & hit)  # ids >= width are in no exclusion list
        order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # kept columns first, in rank order
        kept = np.take_along_axis(keep, order, axis=1)
        columns = order.shape[1]  # fewer than k when the index holds fewer than k items
        I_out[members, :columns] = np.where(kept, np.take_along_axis(I, order, axis=1), -1)
        D_out[members, :columns] = np.where(kept, np.take_along_axis(D, order, axis=1), fill)
    return D_out, I_out


def recall_against_exact(
    index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, k: int = 10, metric: str = "ip"
) -> float:
    """Mean fraction of the exact top-k (a Flat index over ``vectors``) that ``index`` returns.

    ``index`` must hold ``vectors`` under row-position ids, as ``build_index`` without ``ids`` does.
    """
    _, exact = search(build_index(vectors, metric, "Flat", use_gpu=False), queries, k)
    _, found = search(index, queries, k)
    hits = [len(np.intersect1d(f[f >= 0], e[e >= 0])) for f, e in zip(found, exact, strict=True)]
    return float(np.sum(hits) / max(1, int((exact >= 0).sum())))


def save_index(index: faiss.Index, path: Path) -> None:
    """Write an index atomically (a GPU index is copied back to the CPU first)."""
    if faiss.get_num_gpus() > 0:  # copies a CPU index unchanged, moves a GPU index back
        index = faiss.index_gpu_to_cpu(index)
    with atomic_path(path) as tmp:
        faiss.write_index(index, str(tmp))


def load_index(path: Path) -> faiss.Index:
    """Read an index written by ``save_index`` (on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no FAISS index there")
    return faiss.read_index(str(path))


@dataclass
class ItemIndex:
    """An index over items with internal ids 0..N-1 and the original id of each.

    Attributes:
        index: the FAISS index; its ids are internal item ids.
        metric: "ip" or "l2".
        factory: the ``index_factory`` string it was built from.
        dim: vector dimension.
        item_ids: original item id (int or str) of each internal id.
    """

    index: faiss.Index
    metric: str
    factory: str
    dim: int
    item_ids: list

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        metric: str = "ip",
        factory: str = "Flat",
        item_ids: list | np.ndarray | None = None,
        **options,
    ) -> ItemIndex:
        """Build from (N, d) item vectors; ``options`` go to ``build_index``."""
        vectors = np.asarray(vectors)
        item_ids = list(range(len(vectors))) if item_ids is None else np.asarray(item_ids).tolist()
        if len(item_ids) != len(vectors):
            raise ValueError(f"item_ids: {len(item_ids)} ids for {len(vectors)} vectors")
        index = build_index(vectors, metric, factory, **options)
        return cls(index, metric, factory, vectors.shape[1], item_ids)

    def search(
        self, queries: np.ndarray, k: int, exclude: sp.spmatrix | list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``search`` on this index: D (Q, k), I (Q, k) internal ids (-1 when exhausted)."""
        return search(self.index, queries, k, exclude)

    def add(self, vectors: np.ndarray, item_ids: list) -> None:
        """Append (n, d) vectors of new items; they get internal ids N..N+n-1."""
        vectors = _as_matrix(vectors, "vectors", dim=self.dim)
        if len(item_ids) != len(vectors):
            raise ValueError(f"item_ids: {len(item_ids)} ids for {len(vectors)} vectors")
        self.index.add(vectors)
        self.item_ids = [*self.item_ids, *np.asarray(item_ids).tolist()]

    def original_ids(self, internal: np.ndarray) -> list[list]:
        """Map an (Q, k) array of internal ids to original ids, dropping -1 entries."""
        return [[self.item_ids[i] for i in row if i >= 0] for row in np.asarray(internal)]

    def save(self, folder: Path) -> None:
        """Write ``index.faiss`` and ``index.json`` (metadata and id map) into ``folder``."""
        folder = Path(folder)
        save_index(self.index, folder / INDEX_FILE)
        meta = {
            "metric": self.metric,
            "factory": self.factory,
            "dim": self.dim,
            "num_items": len(self.item_ids),
            "item_ids": self.item_ids,
        }
        write_text_atomic(folder / META_FILE, json.dumps(meta))

    @classmethod
    def load(cls, folder: Path) -> ItemIndex:
        """Read an ``ItemIndex`` written by ``save``."""
        folder = Path(folder)
        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path}: no index metadata there")
        meta = json.loads(meta_path.read_text())
        missing = {"metric", "factory", "dim", "item_ids"} - set(meta)
        if missing:
            raise ValueError(f"{meta_path}: missing field(s) {sorted(missing)}")
        index = load_index(folder / INDEX_FILE)
        if index.ntotal != len(meta["item_ids"]) or index.d != meta["dim"]:
            raise ValueError(
                f"{meta_path}: describes {len(meta['item_ids'])} items of dim {meta['dim']}, but "
                f"the index holds {index.ntotal} of dim {index.d}"
            )
        return cls(index, meta["metric"], meta["factory"], meta["dim"], meta["item_ids"])
