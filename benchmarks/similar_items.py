"""Similar items at catalog scale: HNSW against exact search on a synthetic 64-d catalog.

Catalog: ``--items`` vectors from 1,000 Gaussian clusters (centres and spread both standard
normal, so clusters overlap), seeded, scaled to unit length: cosine similarity as inner product,
the space ``Recommender.similar_items`` uses for embedding models. Queries are ``--queries``
catalog items chosen at random, each asking for its 10 nearest *other* items (itself excluded, as
``GET /v1/items/{id}/similar`` does); the truth is a Flat (exact) index's answer. Reported per
index: build seconds, its size (``faiss.serialize_index``) and the process's RSS growth while
building (which undercounts when freed memory is reused), recall@10 against exact, and
queries per second two ways: one query per call (the HTTP endpoint's pattern; ``--single``
queries) and all queries in one batched call (which favours exact search: one matrix product).
Graphs of degree M built with construction breadth efConstruction; ``efSearch`` is swept, and
the smallest value reaching recall 0.98 is marked. Searches run
on one thread (``faiss.omp_set_num_threads(1)``); the HNSW build on ``--build-threads``.

    python -m benchmarks.similar_items --build-threads 2    # 1M items (builds: ~12 min on 2 cores)
    python -m benchmarks.similar_items --items 200000       # quicker
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.results_io import write_results

SEED = 0
TARGET_RECALL = 0.98


def clustered_catalog(num: int, dim: int, clusters: int = 1000, seed: int = SEED) -> np.ndarray:
    """(num, dim) float32 unit vectors from ``clusters`` overlapping Gaussian clusters, seeded."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    out = np.empty((num, dim), dtype=np.float32)
    for begin in range(0, num, 100_000):  # in chunks: no float64 copy of the whole catalog
        rows = min(100_000, num - begin)
        chunk = centres[rng.integers(clusters, size=rows)] + rng.standard_normal(
            (rows, dim), dtype=np.float32
        )
        out[begin : begin + rows] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def rss_bytes() -> int:
    """This process's resident set size now (``VmRSS`` of /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmRSS line")


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)}


def overlap(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each exact top-k list that ``found`` (Q, k) returns."""
    hits = [len(np.intersect1d(f[f >= 0], e[e >= 0])) for f, e in zip(found, exact, strict=True)]
    return float(np.sum(hits) / max(1, int((exact >= 0).sum())))


def timed_search(index, vectors: np.ndarray, queries: np.ndarray, single: int) -> dict:
    """Batched search of every query (and its ids), and one-query-per-call search of the first
    ``single``: seconds and queries per second."""
    from recsys.index import search

    own = [np.array([q]) for q in queries]  # each query item excludes itself
    start = time.perf_counter()
    _, found = search(index, vectors[queries], 10, exclude=own)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for q in queries[:single]:
        search(index, vectors[q : q + 1], 10, exclude=[np.array([q])])
    one = time.perf_counter() - start
    return {
        "found": found,
        "batched_qps": round(len(queries) / batched, 1),
        "single_qps": round(single / one, 1),
        "single_ms_per_query": round(one / single * 1000, 3),
    }


def build_hnsw(vectors: np.ndarray, m: int, ef_construction: int):
    """``HNSW{m}`` over unit ``vectors`` (inner product). ``recsys.index.build_index`` builds it at
    faiss's default construction breadth (40); another breadth must be set before the vectors are
    added, which ``build_index`` does not offer, so that case is built here with faiss directly."""
    import faiss

    from recsys.index import build_index

    if ef_construction == 40:
        return build_index(vectors, "ip", f"HNSW{m}", use_gpu=False)
    index = faiss.index_factory(vectors.shape[1], f"HNSW{m}", faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(vectors)
    return index


def main() -> None:
    import faiss

    from recsys.index import build_index

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--single", type=int, default=1000, help="queries timed one per call (exact: 200)")
    parser.add_argument(
        "--hnsw", default="32:40,64:40,32:200", help="HNSW graphs built, M:efConstruction (faiss default 40)"
    )
    parser.add_argument("--ef", default="64,128,192,256,384,512", help="efSearch values swept")
    parser.add_argument("--build-threads", type=int, default=1)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)

    start = time.perf_counter()
    vectors = clustered_catalog(args.items, args.dim)
    print(f"catalog {vectors.shape} in {time.perf_counter() - start:.1f} s, {machine()}", flush=True)
    queries = np.sort(np.random.default_rng(SEED + 1).choice(args.items, args.queries, replace=False))
    dataset = f"synthetic-clustered-{args.items}x{args.dim}"
    protocol = (
        f"{args.queries} catalog items as queries, top 10 others (self excluded), cosine (ip on unit "
        f"vectors), recall vs Flat; 1000 Gaussian clusters, seed {SEED}; search on 1 thread"
    )

    before = rss_bytes()
    start = time.perf_counter()
    flat = build_index(vectors, "ip", "Flat", use_gpu=False)
    flat_build = time.perf_counter() - start
    flat_memory = rss_bytes() - before
    exact = timed_search(flat, vectors, queries, min(args.single, 200))
    records = [
        {
            "model": "Flat (exact)",
            "dataset": dataset,
            "protocol": protocol,
            "recall@10": 1.0,
            "build_s": round(flat_build, 2),
            "index_mb": round(faiss.serialize_index(flat).nbytes / 2**20, 1),
            "rss_delta_mb": round(flat_memory / 2**20, 1),
            **{k: v for k, v in exact.items() if k != "found"},
            **machine(),
        }
    ]
    print(records[-1], flush=True)
    del flat

    chosen = []
    for m, ef_construction in (map(int, v.split(":")) for v in args.hnsw.split(",")):
        faiss.omp_set_num_threads(args.build_threads)
        before = rss_bytes()
        start = time.perf_counter()
        hnsw = build_hnsw(vectors, m, ef_construction)
        hnsw_build = time.perf_counter() - start
        hnsw_memory = rss_bytes() - before
        faiss.omp_set_num_threads(1)
        hnsw_size = faiss.serialize_index(hnsw).nbytes
        name = f"HNSW{m},efConstruction={ef_construction}"
        print(f"{name}: built in {hnsw_build:.0f} s, RSS +{hnsw_memory / 2**20:.0f} MB", flush=True)
        reached = False
        for ef in (int(e) for e in args.ef.split(",")):
            faiss.ParameterSpace().set_index_parameter(hnsw, "efSearch", ef)
            result = timed_search(hnsw, vectors, queries, args.single)
            recall = overlap(result.pop("found"), exact["found"])
            record = {
                "model": f"{name},efSearch={ef}",
                "dataset": dataset,
                "protocol": protocol,
                "recall@10": round(recall, 4),
                "build_s": round(hnsw_build, 1),
                "build_threads": args.build_threads,
                "index_mb": round(hnsw_size / 2**20, 1),
                "rss_delta_mb": round(hnsw_memory / 2**20, 1),
                **result,
                "single_speedup_vs_exact": round(result["single_qps"] / exact["single_qps"], 1),
                "batched_speedup_vs_exact": round(result["batched_qps"] / exact["batched_qps"], 1),
                **machine(),
            }
            if not reached and recall >= TARGET_RECALL:
                reached = True
                chosen.append(record["model"])
                record["chosen"] = f"smallest efSearch of {name} with recall >= {TARGET_RECALL}"
            records.append(record)
            print(record, flush=True)
        del hnsw
    command = "python -m benchmarks.similar_items " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
    )
    notes = (
        __doc__.split("\n\n")[1]
        + f"\n\nReaching recall {TARGET_RECALL}: {', '.join(chosen) or 'none'}. Command: `{command}`."
    )
    write_results(
        "similar_items", records, title="Similar items: HNSW vs exact on a synthetic catalog", notes=notes
    )


if __name__ == "__main__":
    main()
