"""Demo step "serving": the HTTP service over a freshly trained model, every endpoint called once.

Trains a small BPR and ItemKNN, fits a two-stage ranker over them (``alignrec rerank``'s
``recsys.rerank_training.train_two_stage``), starts the service (``serving.main.create_app`` under
uvicorn) on a free loopback port in a subprocess, calls each endpoint, prints what it answered, and
stops it; before that, simulated users are shown its slates for a few rounds, their feedback is
posted with slate ids, and user simulators are measured on the slates the service showed
(``alignrec.demos.served_slates_demo``). The size-fit and matching endpoints serve the models of the
``sizefit`` and ``matching`` demo steps when those ran first (``alignrec demo`` runs them before this
one); otherwise they answer that they are not enabled.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import torch
from rich.console import Console

from alignrec.demos.served_slates_demo import served_slates
from recsys.experiment import RECOMMENDER_DIR, TrainConfig, run_experiment
from recsys.recommender import Recommender
from recsys.rerank_training import train_two_stage
from recsys.splits import random_split
from recsys.synthetic import make_interactions
from serving.ports import free_port


def _wait_ready(http: httpx.Client, server: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode} before it was ready")
        try:
            if http.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


def _show(console: Console, response: httpx.Response, seconds: float, width: int = 300) -> dict:
    request = response.request
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    text = json.dumps(body) if body else response.text.strip().splitlines()[0]
    shown = text if len(text) <= width else text[: width - 3] + "..."
    console.print(
        f"[bold]{request.method} {request.url.raw_path.decode()}[/bold] -> {response.status_code} "
        f"({seconds * 1000:.1f} ms)\n  {shown}",
        highlight=False,
    )
    return body


def run(out: Path, console: Console) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small gains nothing from a second thread
    try:
        _run(out, console)
    finally:
        torch.set_num_threads(threads)


def demo_data():
    """The served log (planted tastes) split 80/10/10, and its truth; the loop step reads the same."""
    data, truth = make_interactions(num_users=500, num_items=300, events_per_user=20, seed=2026)
    return data, random_split(data, (0.8, 0.1, 0.1), seed=2026), truth


def _run(out: Path, console: Console) -> None:
    data, split, truth = demo_data()
    config = TrainConfig(model="bpr", dim=32, epochs=20, lr=5e-3, batch_size=1024, patience=5)
    result = run_experiment(split, config, out / "bpr", progress=False)
    model_dir = out / "bpr" / RECOMMENDER_DIR
    console.print(f"Trained BPR on {split.describe()}: NDCG@10 {result.metrics['ndcg@10']:.4f}")
    run_experiment(split, TrainConfig(model="itemknn", knn_k=50), out / "itemknn", progress=False)
    retrievers = {name: Recommender.load(out / name / RECOMMENDER_DIR) for name in ("bpr", "itemknn")}
    fitted = train_two_stage(retrievers, {"bpr": 50, "itemknn": 30}, split)
    ranker_dir = fitted.ranker.save(out / "ranker")
    console.print(
        f"Two-stage ranker (BPR 50 + ItemKNN 30 candidates, LightGBM on the validation items): tuning "
        f"users' NDCG@10 {fitted.tune_ndcg:.4f} vs {fitted.tune_ndcg_first_retriever:.4f} in BPR's order"
    )

    port, key = free_port(), secrets.token_hex(8)
    env = {
        **os.environ,
        "ALIGNREC_MODEL_DIR": str(model_dir),
        "ALIGNREC_FEEDBACK_URL": f"sqlite:///{(out / 'feedback.db').resolve()}",
        "ALIGNREC_ADMIN_API_KEY": key,
        "ALIGNREC_RANKER_DIR": str(ranker_dir.resolve()),  # known users: re-ranked; others: cold start
    }
    for name, path in (("SIZEFIT_MODEL", "sizefit/sizefit.pt"), ("MATCHER_MODEL", "matching/matcher.json")):
        if (out.parent / path).is_file():
            env[f"ALIGNREC_{name}"] = str((out.parent / path).resolve())
    command = [sys.executable, "-m", "uvicorn", "--factory", "serving.main:create_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    console.print(
        f"Starting the service on http://127.0.0.1:{port} (docs at /docs); the same with the CLI:\n"
        f"  alignrec serve --model-dir {model_dir} --ranker-dir {ranker_dir} --port {port}"
    )
    server = subprocess.Popen(command, env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            start = time.perf_counter()
            _wait_ready(http, server)
            console.print(f"[dim]ready after {time.perf_counter() - start:.1f} s[/dim]")
            _calls(http, console, key, str(data.user_ids[0]), str(data.item_ids[0]))
            served = retrievers["bpr"]  # the model the service loaded (ALIGNREC_MODEL_DIR)
            served_slates(http, split.train, truth, served, env["ALIGNREC_FEEDBACK_URL"], console)
    finally:
        server.terminate()
        server.wait(timeout=30)
    console.print(f"Feedback stored in {out / 'feedback.db'}; export it for retraining with:")
    console.print(
        f"  alignrec feedback export --db sqlite:///{(out / 'feedback.db').resolve()} --out feedback.csv"
    )


def _calls(http: httpx.Client, console: Console, key: str, user: str, item: str) -> None:
    listing = {"id": "mine-1", "title": "Quilla Galaxy 4 QU263A 128GB smartphone", "price": 384.0}
    other = {"id": "theirs-9", "title": "Quilla Galaxy 4 smartphone QU263A, 128 GB", "price": 389.0}
    events = [
        {"client_event_id": "demo-1", "type": "impression", "user_id": user, "item_id": item, "position": 0},
        {"client_event_id": "demo-2", "type": "click", "user_id": user, "item_id": item},
        {"client_event_id": "demo-3", "type": "rating", "user_id": user, "item_id": item, "rating": 4},
    ]
    calls = [
        ("GET", "/healthz", None, None),
        ("GET", "/readyz", None, None),
        ("POST", "/v1/recommendations", {"user_id": user, "k": 5}, None),
        ("POST", "/v1/recommendations", {"user_id": "new-visitor", "recent_items": [item], "k": 5}, None),
        ("POST", "/v1/recommendations", {"user_id": user, "k": 5, "kk": 1}, None),  # a 422 naming the field
        ("GET", f"/v1/items/{item}/similar?k=5", None, None),
        ("GET", "/v1/items/no-such-item/similar", None, None),
        ("POST", "/v1/products/match", {"left": listing, "right": other}, None),
        (
            "POST",
            "/v1/size-fit",
            {
                "measurements": {"height_cm": 165, "weight_kg": 60},
                "product_id": "p00001",
                "sizes": [4, 6, 8, 10],
            },
            None,
        ),  # fmt: skip
        ("POST", "/v1/feedback", {"events": events}, None),
        ("POST", "/v1/feedback", {"events": events}, None),  # a retry: nothing stored twice
        ("POST", "/v1/admin/reload", None, {"X-API-Key": key}),
        ("GET", "/metrics", None, None),
    ]
    for method, path, body, headers in calls:
        start = time.perf_counter()
        response = http.request(method, path, json=body, headers=headers)
        seconds = time.perf_counter() - start
        if path == "/metrics":
            lines = [
                line
                for line in response.text.splitlines()
                if line.startswith(("alignrec_model_info", "alignrec_http_requests_total{"))
            ]
            console.print(f"[bold]GET /metrics[/bold] -> {response.status_code} ({seconds * 1000:.1f} ms)")
            console.print("  " + "\n  ".join(lines[:6]), highlight=False)
            continue
        _show(console, response, seconds)
