"""Online-contract benchmark: a saved ``Recommender`` as a service would use it (not a timed test).

Run: ``python -m benchmarks.online [--only lightgcn,cm3,cli] [--epochs-lightgcn 30] [--users 1000]``
(needs ../shared/data; writes ``benchmarks/results/online.json`` and ``.md``).

Models, trained here first (quality is not the point; budgets are in each record):
- LightGCN on ML-1M (ratings >= 3, per-user random 80/10/10 seed 2026, dim 64, 3 layers);
- CM³ on Amazon Scientific (shipped leave-one-out split, shipped text+image features, unnormalised
  scores as in ``benchmarks/multimodal.py``).

Each saved folder is then measured in a fresh process (so its peak memory is the served model's),
on one torch thread: load time; ``recommend(user_id, k=10)`` latency one user at a time (p50/p99)
exactly and through an HNSW32 index (efSearch 128), with the index's recall@10 against the exact
lists; ``recommend_batch`` throughput for 1,000 users; the cold paths (an anonymous user with five
recent items, ``similar_items``); peak RSS. Before that, the in-memory model and the loaded one
are compared on every measured user: the lists must be identical.

``cli``: wall seconds of ``python -m alignrec --help`` on this tree and on the commit before the
online contract (00c29b5, checked out in a temporary git worktree), median of 5 runs each.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.results_io import write_results

BEFORE_COMMIT = "00c29b5"  # the last commit before the online contract
K = 10


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "load_average": round(os.getloadavg()[0], 2)}


def proc_status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/self/status has no {field}")


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def train_lightgcn(out: Path, epochs: int) -> tuple[object, Path, dict]:
    """The trained in-memory Recommender, the folder it was saved to, and what to record."""
    import torch

    from benchmarks.recsys import load_split
    from recsys.evaluate import evaluate_scores
    from recsys.models.lightgcn import LightGCN
    from recsys.recommender import Recommender
    from recsys.train import fit

    torch.set_num_threads(2)
    split = load_split("ml-1m")
    train = split.train
    torch.manual_seed(2026)
    model = LightGCN(train.num_users, train.num_items, train.to_csr(), dim=64, num_layers=3, reg=1e-4)
    result = fit(
        model,
        train,
        valid=split.valid,
        epochs=epochs,
        batch_size=8192,
        lr=4e-3,
        patience=10,
        num_negatives=4,
        seed=2026,
    )
    known = (train.to_csr() + split.valid.to_csr()).tocsr()
    metrics = evaluate_scores(lambda u: model.scores(torch.from_numpy(u)), split.test, known).metrics
    live = Recommender(
        model,
        train.to_csr(),
        train.user_ids,
        train.item_ids,
        known=known,
        protocol={**split.protocol, "split_checksum": split.checksum},
    )
    info = {
        "dataset": "ml-1m",
        "protocol": "ml-1m rating>=3; per-user random 80/10/10 seed 2026; dim 64, 3 layers, "
        f"{epochs}-epoch budget (best epoch {result.best_epoch + 1}); test ndcg@10 {metrics['ndcg@10']:.4f}",
        "test_ndcg@10": round(metrics["ndcg@10"], 4),
    }
    info["identity_check"] = "trained in-memory object -> save -> load"
    return live, live.save(out / "lightgcn-ml1m"), info


def train_cm3(out: Path, epochs: int) -> tuple[object, Path, dict]:
    import torch

    from benchmarks.multimodal import load_scientific
    from recsys.evaluate import evaluate_scores
    from recsys.models.cm3 import CM3, CM3Config
    from recsys.recommender import Recommender
    from recsys.train import fit

    torch.set_num_threads(2)
    split, features, _ = load_scientific()
    shipped = [features["text"], features["image"]]
    train = split.train
    torch.manual_seed(2026)
    model = CM3(train.num_users, train.num_items, train.to_csr(), shipped, CM3Config(normalize_scores=False))
    result = fit(
        model,
        train,
        valid=split.valid,
        epochs=epochs,
        eval_every=5,
        patience=3,
        lr=1e-3,
        batch_size=2048,
        valid_metric="ndcg@20",
        seed=2026,
    )
    known = (train.to_csr() + split.valid.to_csr()).tocsr()
    metrics = evaluate_scores(lambda u: model.scores(torch.from_numpy(u)), split.test, known).metrics
    live = Recommender(
        model,
        train.to_csr(),
        np.arange(train.num_users).astype(str),
        train.item_ids,
        known=known,
        features=shipped,
        protocol={"dataset": "amazon-scientific-mm"},
    )
    path = live.save(out / "cm3-scientific")
    info = {
        "dataset": "amazon-scientific-mm",
        "protocol": "shipped leave-one-out; shipped 512-d text+image features; unnormalised scores; "
        f"{epochs}-epoch budget (best epoch {result.best_epoch + 1}); test ndcg@20 {metrics['ndcg@20']:.4f}",
        "test_ndcg@20": round(metrics["ndcg@20"], 4),
        "identity_check": "trained in-memory object -> save -> load",
    }
    return live, path, info


def reused(path: Path) -> tuple[object, Path, dict]:
    """A folder saved by an earlier run, loaded, saved again beside it (the round trip to check)."""
    import json

    from recsys.recommender import Recommender

    live = Recommender.load(path, with_index=False)
    previous = json.loads((Path(__file__).parent / "results" / "online.json").read_text())
    record = next(r for r in previous if r["model"] == live.name)
    info = {k: v for k, v in record.items() if k in ("dataset", "protocol") or k.startswith("test_")}
    info["identity_check"] = "loaded folder -> save -> load (--reuse)"
    return live, live.save(path.parent / f"{path.name}-again"), info


def identical_after_reload(path: Path, live, users: np.ndarray) -> bool:
    """The live recommender and the one read back from ``path`` give the same lists and scores."""
    from recsys.recommender import Recommender

    loaded = Recommender.load(path, with_index=False)
    live_items, live_scores = live.recommend_batch(users, K)
    items, scores = loaded.recommend_batch(users, K)
    ids = [str(u) for u in live.user_ids[users[:50]]]
    same_ids = all(live.recommend(u, K) == loaded.recommend(u, K) for u in ids)
    return bool(np.array_equal(items, live_items) and np.array_equal(scores, live_scores) and same_ids)


def serve_job(path: str, num_users: int, queue: mp.Queue) -> None:
    """Measure one saved folder the way a service uses it (runs in a fresh process)."""
    import torch

    from recsys.recommender import Recommender

    torch.set_num_threads(1)
    baseline = proc_status_mb("VmRSS")  # interpreter + torch and friends, before the model
    start = time.perf_counter()
    recommender = Recommender.load(path, with_index=False)
    first_load = time.perf_counter() - start
    recommender.recommend(str(recommender.user_ids[0]), K)
    model_rss = proc_status_mb("VmRSS") - baseline
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        Recommender.load(path, with_index=False)
        loads.append(time.perf_counter() - start)
    rng = np.random.default_rng(2026)
    users = rng.choice(
        len(recommender.user_ids), size=min(num_users, len(recommender.user_ids)), replace=False
    )
    user_ids = [str(u) for u in recommender.user_ids[users]]
    items = np.asarray(recommender.item_ids).astype(str)
    recommender.recommend(user_ids[0], K)  # warm the caches (propagated vectors)

    def timed(call, args) -> tuple[list, list[float]]:
        outs, times = [], []
        for arg in args:
            start = time.perf_counter()
            outs.append(call(arg))
            times.append(time.perf_counter() - start)
        return outs, times

    exact, exact_times = timed(lambda u: recommender.recommend(u, K), user_ids)
    start = time.perf_counter()
    recommender.recommend_batch(users, K)
    exact_batch = time.perf_counter() - start
    recents = [list(rng.choice(items, 5, replace=False)) for _ in range(len(users))]
    anonymous, anonymous_times = timed(lambda r: recommender.recommend(None, K, recent_items=r), recents)
    _, similar_times = timed(lambda i: recommender.similar_items(i, K), list(rng.choice(items, len(users))))

    start = time.perf_counter()
    recommender.attach_index("HNSW32", ef_search=128)
    build = time.perf_counter() - start
    recommender.recommend(user_ids[0], K)
    through, index_times = timed(lambda u: recommender.recommend(u, K), user_ids)
    start = time.perf_counter()
    recommender.recommend_batch(users, K)
    index_batch = time.perf_counter() - start
    recall = np.mean([len(set(a.items) & set(b.items)) / K for a, b in zip(through, exact, strict=True)])
    queue.put(
        {
            "num_items": len(items),
            "num_users": len(recommender.user_ids),
            "load_seconds_first": first_load,
            "load_seconds": statistics.median(loads),
            **{f"exact_{k}": v for k, v in percentiles(exact_times).items()},
            **{f"hnsw_{k}": v for k, v in percentiles(index_times).items()},
            **{f"anonymous_{k}": v for k, v in percentiles(anonymous_times).items()},
            **{f"similar_{k}": v for k, v in percentiles(similar_times).items()},
            "exact_batch_users_per_s": len(users) / exact_batch,
            "hnsw_batch_users_per_s": len(users) / index_batch,
            "hnsw_build_seconds": build,
            "hnsw_recall@10": float(recall),
            "sources": sorted({exact[0].source, through[0].source, anonymous[0].source}),
            # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a spawned child would
            # report its parent's peak.
            "peak_rss_mb": proc_status_mb("VmHWM"),
            "model_rss_mb": model_rss,
        }
    )


def measure(name: str, live, path: Path, info: dict, num_users: int) -> dict:
    rng = np.random.default_rng(7)
    users = rng.choice(len(live.user_ids), size=min(num_users, len(live.user_ids)), replace=False)
    same = identical_after_reload(path, live, users)  # the trained object against its saved folder
    queue: mp.Queue = mp.get_context("spawn").Queue()
    process = mp.get_context("spawn").Process(target=serve_job, args=(str(path), num_users, queue))
    process.start()
    numbers = queue.get()
    process.join()
    record = {
        "model": name,
        **info,
        "threads": 1,
        "k": K,
        "identical_after_reload": same,
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in numbers.items()},
        **machine(),
    }
    print(record, flush=True)
    return record


def help_seconds(root: Path, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "alignrec", "--help"],
            cwd=root,
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cli_records() -> list[dict]:
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(before), BEFORE_COMMIT],
            cwd=root,
            check=True,
            capture_output=True,
        )
        try:
            old = help_seconds(before)
            new = help_seconds(root)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=root, check=True)
    return [
        {
            "model": "alignrec --help",
            "dataset": "-",
            "protocol": f"python -m alignrec --help, median of 5, tree at {name}",
            "seconds": round(value, 3),
            "ratio_to_before": round(value / old, 3),
            **machine(),
        }
        for name, value in ((f"{BEFORE_COMMIT} (before)", old), ("this commit", new))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="lightgcn,cm3,cli")
    parser.add_argument("--epochs-lightgcn", type=int, default=30)
    parser.add_argument("--epochs-cm3", type=int, default=25)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path(".alignrec/bench/online"))
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the folders a previous run saved (no training); the identity check is then a "
        "round trip of the loaded model through a second save",
    )
    args = parser.parse_args()
    only = args.only.split(",")
    records = []
    for name, train, epochs, folder in (
        ("lightgcn", train_lightgcn, args.epochs_lightgcn, "lightgcn-ml1m"),
        ("cm3", train_cm3, args.epochs_cm3, "cm3-scientific"),
    ):
        if name in only:
            records.append(
                measure(
                    name, *(reused(args.out / folder) if args.reuse else train(args.out, epochs)), args.users
                )
            )
    if "cli" in only:
        records += cli_records()
    notes = (
        "Saved recommenders measured as a service uses them; one torch thread; k = 10; 1,000 random users. "
        "`identical_after_reload`: the in-memory recommender and a reload of its saved folder give the same "
        "lists and scores for every measured user. Latencies are per call of `Recommender.recommend` "
        "(in-process, no HTTP). HNSW32 with efSearch 128; `hnsw_recall@10` against the exact lists. "
        "Rerun: `python -m benchmarks.online`."
    )
    write_results("online", records, title="Online contract: load, latency, throughput, memory", notes=notes)


if __name__ == "__main__":
    main()
