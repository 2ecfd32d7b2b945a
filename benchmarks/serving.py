"""Load benchmark of the HTTP service: open-loop requests at fixed arrival rates over loopback.

Run: ``python -m benchmarks.serving [--rates 200,500,1000,1500] [--seconds 5] [--epochs 20]
[--models bpr,bpr+hnsw32,two-stage] [--workers 2] [--ranker NAME] [--tag TEXT]`` (needs
../shared/data for ML-1M, and for ``two-stage`` the retrievers and ranker ``python -m
benchmarks.rerank`` left in ALIGNREC_HOME/bench/rerank; writes ``benchmarks/results/serving.json``
and ``.md``, replacing the rows of the variants it ran and keeping the others).

The models: BPR (dim 64) trained on ML-1M (ratings >= 3, per-user random 80/10/10 seed 2026), served
exactly and with an HNSW32 index attached (its quality is not the point here); and ``two-stage``:
the benchmark's LightGBM ranker over LightGCN, BPR, ItemKNN and popularity (up to 220 candidates
per user, NDCG@10 0.2736 in ``rerank.json``), with LightGCN as the served model. Each variant runs in
``uvicorn --factory serving.main:create_app`` (``--workers`` processes sharing their metrics as
``alignrec serve --workers N`` does, one torch thread each) on 127.0.0.1; the
client is one asyncio process (raw HTTP/1.1 over 64 keep-alive connections, requests encoded in
advance, so that it takes little CPU) on the same machine: the two share the cores. Open loop:
request i is due at ``t0 + i / rate`` whatever happened to earlier ones, and its latency runs from
when it was due (so a server that falls behind is charged for the queue, not hidden by a client
that waits). One second of warm-up at each rate is discarded; a run more than a second behind
schedule stops and is marked saturated (higher rates are then skipped).

Endpoints: ``POST /v1/recommendations`` for random known users (k=10, training items excluded) and
``GET /v1/items/{id}/similar`` for random items (k=10). The per-stage split comes from the
server's own Prometheus histograms, scraped before and after each run: time inside the app per
request (routing, validation, handler, serialisation; not the network or uvicorn's HTTP parsing)
and, of that, time in each stage: ``retrieval`` (``Recommender.recommend``, or the two-stage
ranker's candidates from all its retrievers), ``features`` and ``lightgbm`` (two-stage only); the
rest of ``app_ms`` is routing, validation, serialisation and metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.results_io import RESULTS_DIR, write_results
from serving.ports import free_port

K = 10
STAGES = ("retrieval", "features", "lightgbm")
DATASET = "ml-1m"


def protocol(workers: int, http: str, loop: str, reuse_port: bool = True) -> str:
    """The setting, with what uvicorn's "auto" resolves to here (httptools/uvloop when installed)."""
    import importlib.util

    if http == "auto":
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    if loop == "auto":
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return (
        f"open-loop fixed arrival rate, loopback, {workers} uvicorn worker(s) (http {http}, loop {loop}"
        f"{', a SO_REUSEPORT socket each' if workers > 1 and reuse_port else ''}), "
        "1 torch thread each, k=10, client on the same cores"
    )


def machine() -> dict:
    cpu = platform.processor() or ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": cpu, "cores": os.cpu_count()}


def train_models(root: Path, epochs: int) -> dict[str, Path]:
    """BPR on ML-1M, saved plain and with an HNSW32 index; returns name -> folder."""
    import torch

    from alignrec.settings import require_data
    from recsys.data import to_implicit
    from recsys.experiment import RECOMMENDER_DIR, TrainConfig, run_experiment
    from recsys.readers import read_movielens_1m
    from recsys.recommender import Recommender
    from recsys.splits import random_split

    torch.set_num_threads(2)
    data = to_implicit(read_movielens_1m(require_data("ml-1m/ratings_svdapprox.csv.gz")), threshold=3)
    split = random_split(data, (0.8, 0.1, 0.1), seed=2026)
    config = TrainConfig(
        model="bpr", dim=64, epochs=epochs, lr=1e-3, batch_size=2048, patience=0, eval_every=epochs
    )
    run_experiment(split, config, root / "bpr", progress=False)
    exact = root / "bpr" / RECOMMENDER_DIR
    recommender = Recommender.load(exact)
    recommender.attach_index("HNSW32", ef_search=128)
    recommender.save(root / "bpr-hnsw32")
    return {"bpr": exact, "bpr+hnsw32": root / "bpr-hnsw32"}


def two_stage_folders(name: str = "ranker") -> tuple[Path, Path]:
    """The served model (LightGCN) and a ranker folder that ``benchmarks.rerank --save-as NAME`` saved."""
    from alignrec.settings import home_dir
    from benchmarks.rerank import CACHE

    root = home_dir() / CACHE
    if not (root / name / "ranker.json").is_file():
        raise FileNotFoundError(
            f"{root / name}: no saved ranker; run python -m benchmarks.rerank --save-as {name} first"
        )
    return root / "lightgcn" / "recommender", root / name


def start_server(
    model_dir: Path,
    port: int,
    feedback_db: Path,
    ranker_dir: Path | None = None,
    workers: int = 1,
    http: str = "auto",
    loop: str = "auto",
    reuse_port: bool = True,
) -> subprocess.Popen:
    env = {
        **os.environ,
        "ALIGNREC_MODEL_DIR": str(model_dir),
        "ALIGNREC_FEEDBACK_URL": f"sqlite:///{feedback_db}",
    }
    if ranker_dir is not None:
        env["ALIGNREC_RANKER_DIR"] = str(ranker_dir)
    if workers > 1:  # what `alignrec serve --workers N` does: the workers share their metrics
        shared = feedback_db.parent / f"{feedback_db.stem}-prometheus"
        shared.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
    command = [sys.executable, "-m", "uvicorn", "--factory", "serving.main:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
               "--http", http, "--loop", loop]  # fmt: skip
    if workers > 1 and reuse_port:  # what `alignrec serve --workers N` runs: a socket per worker
        command = [sys.executable, "-m", "alignrec", "serve", "--port", str(port), "--workers", str(workers),
                   "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, env=env)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not become ready in 120 s")


def scrape(base: str) -> dict[tuple[str, str], float]:
    """(metric, label set) -> value of the _sum and _count series of the app's histograms."""
    import httpx

    values = {}
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if (
            line.startswith(("alignrec_http_request_seconds_", "alignrec_stage_seconds_"))
            and "_bucket" not in line
        ):
            name, value = line.rsplit(" ", 1)
            metric, _, labels = name.partition("{")
            values[(metric, labels.rstrip("}"))] = float(value)
    return values


async def open_loop(port: int, requests: list[bytes], rate: float, connections: int = 64) -> dict:
    """Send raw HTTP/1.1 ``requests`` at ``rate`` per second (open loop) over keep-alive connections
    to 127.0.0.1:``port``; latencies run from each request's due time. A lean client (asyncio
    streams, pre-encoded requests) so that it takes little of the CPU it shares with the server.
    Stops early, marking the run saturated, once it is a second's worth of requests behind."""
    latencies = np.full(len(requests), np.nan)
    errors = 0
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (item := await queue.get()) is not None:
            i, due = item
            try:
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: *(\d+)", head, re.IGNORECASE).group(1))
                await reader.readexactly(length)
                errors += head[9:12] != b"200"
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, AttributeError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            latencies[i] = time.perf_counter() - due
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.1)  # connected
    start = time.perf_counter()
    sent, saturated = 0, False
    for i in range(len(requests)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if queue.qsize() > rate:  # a second behind: the server (or client) cannot keep up
            saturated = True
            break
        queue.put_nowait((i, due))
        sent += 1
    while not queue.empty():  # drop what was never sent
        queue.get_nowait()
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    done = latencies[np.isfinite(latencies)] * 1000
    return {
        "achieved_rate": round(len(done) / elapsed, 1),
        "p50_ms": round(float(np.percentile(done, 50)), 2),
        "p95_ms": round(float(np.percentile(done, 95)), 2),
        "p99_ms": round(float(np.percentile(done, 99)), 2),
        "max_ms": round(float(done.max()), 2),
        "errors": int(errors),
        "saturated": saturated,
        "requests": len(done),
    }


def http_request(method: str, path: str, body: bytes | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def workload(
    endpoint: str, users: list[str], items: list[str], n: int, rng: np.random.Generator
) -> list[bytes]:
    """``n`` pre-encoded requests: random known users, or random items."""
    if endpoint == "recommendations":
        bodies = [json.dumps({"user_id": str(u), "k": K}).encode() for u in rng.choice(users, n)]
        return [http_request("POST", "/v1/recommendations", body) for body in bodies]
    return [http_request("GET", f"/v1/items/{i}/similar?k={K}") for i in rng.choice(items, n)]


def measure(port: int, endpoint: str, rate: float, seconds: float, ids: tuple[list, list], seed: int) -> dict:
    base = f"http://127.0.0.1:{port}"
    rng = np.random.default_rng(seed)
    asyncio.run(open_loop(port, workload(endpoint, *ids, int(rate), rng), rate))  # 1 s warm-up
    before, load_before = scrape(base), os.getloadavg()[0]
    result = asyncio.run(open_loop(port, workload(endpoint, *ids, int(rate * seconds), rng), rate))
    after = scrape(base)
    route = "/v1/recommendations" if endpoint == "recommendations" else "/v1/items/{item_id}/similar"

    def delta(metric: str, labels: str) -> float:
        return after.get((metric, labels), 0.0) - before.get((metric, labels), 0.0)

    count = delta("alignrec_http_request_seconds_count", f'route="{route}"')
    app_s = delta("alignrec_http_request_seconds_sum", f'route="{route}"')
    record = {**result, "app_ms": round(1000 * app_s / max(count, 1), 3)}
    if endpoint == "recommendations":
        staged = 0.0
        for stage in STAGES:
            seconds = delta("alignrec_stage_seconds_sum", f'stage="{stage}"')
            if seconds:
                record[f"{stage}_ms"] = round(1000 * seconds / max(count, 1), 3)
                record[f"{stage}_share_of_app"] = round(seconds / app_s, 3) if app_s else 0.0
                staged += seconds
        record["framework_ms"] = round(1000 * (app_s - staged) / max(count, 1), 3)
    record["load_average"] = f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}"
    return record


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="200,500,1000,1500", help="request rates per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per rate")
    parser.add_argument("--epochs", type=int, default=20, help="BPR training epochs on ML-1M")
    parser.add_argument("--models", default="bpr,bpr+hnsw32,two-stage", help="which served variants")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--http", default="auto", help="uvicorn HTTP parser: auto, h11 or httptools")
    parser.add_argument("--loop", default="auto", help="uvicorn event loop: auto, asyncio or uvloop")
    parser.add_argument(
        "--shared-socket",
        action="store_true",
        help="with --workers N: uvicorn's own workers on one shared socket instead of alignrec serve's "
        "SO_REUSEPORT sockets",
    )
    parser.add_argument("--tag", default="", help="suffix of the model name in the records (a variant)")
    parser.add_argument(
        "--ranker", default="ranker", help="two-stage: the ranker folder under ALIGNREC_HOME/bench/rerank"
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    setting = protocol(args.workers, args.http, args.loop, not args.shared_socket)
    names = args.models.split(",")
    records = []
    with tempfile.TemporaryDirectory(prefix="alignrec-serving-bench-") as tmp:
        from recsys.recommender import Recommender

        root = Path(tmp)
        folders, rankers = {}, {}
        if {"bpr", "bpr+hnsw32"} & set(names):
            folders.update(train_models(root, args.epochs))
        if "two-stage" in names:
            folders["two-stage"], rankers["two-stage"] = two_stage_folders(args.ranker)
        for name in names:
            probe = Recommender.load(folders[name], with_index=False)
            ids = ([str(u) for u in probe.user_ids], [str(i) for i in probe.item_ids])
            sizes = f"{len(ids[0])} users x {len(ids[1])} items, dim 64"
            port = free_port()
            server = start_server(
                folders[name],
                port,
                root / f"{name}-feedback.db",
                rankers.get(name),
                args.workers,
                args.http,
                args.loop,
                not args.shared_socket,
            )
            try:
                endpoints = ["recommendations"] + (["similar"] if name == "bpr" else [])
                load = os.getloadavg()[0]
                print(f"{name}: measuring (load average {load:.2f})", flush=True)
                for endpoint in endpoints:
                    for rate in rates:
                        record = measure(port, endpoint, rate, args.seconds, ids, seed=int(rate))
                        records.append(
                            {
                                "model": name + args.tag,
                                "dataset": DATASET,
                                "protocol": setting,
                                "endpoint": endpoint,
                                "rate": rate,
                                **record,
                                "model_size": sizes,
                                **machine(),
                            }  # fmt: skip
                        )
                        print(json.dumps(records[-1]), flush=True)
                        if record["saturated"]:
                            break  # higher rates only fall further behind
            finally:
                server.terminate()
                server.wait(timeout=30)
    notes = (
        "Open-loop load against `uvicorn --factory serving.main:create_app` on 127.0.0.1 (workers and "
        "HTTP stack as in `protocol`, one torch thread per worker), client (asyncio streams, 64 "
        "keep-alive connections) on the same 2 cores, shared "
        "with other work (see `load_average`). Latency from each request's due time; `app_ms` = time "
        "inside the app per request (Prometheus `alignrec_http_request_seconds`), "
        "`retrieval_ms` = `Recommender.recommend` within it, or for `two-stage` the candidates of its "
        "four retrievers, then `features_ms` and `lightgbm_ms` (`alignrec_stage_seconds`); "
        "`framework_ms` = the rest of `app_ms` (routing, validation, serialisation, metrics); the rest of "
        "p50 is uvicorn, HTTP and the client. Rows of a variant come from the last run that measured it: "
        f"`python -m benchmarks.serving --rates R --seconds S --epochs E --models M` (this run: --rates "
        f"{args.rates} --seconds {args.seconds:g} --epochs {args.epochs} --models {args.models})."
    )
    path = RESULTS_DIR / "serving.json"
    measured = {(name + args.tag, setting) for name in names}
    kept = (
        [r for r in json.loads(path.read_text()) if (r["model"], r["protocol"]) not in measured]
        if path.exists()
        else []
    )
    write_results("serving", kept + records, title="Serving: latency at fixed request rates", notes=notes)


if __name__ == "__main__":
    main()
