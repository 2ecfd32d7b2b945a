"""Durability: a server killed with SIGKILL while a client posts feedback loses no acknowledged event.

A client posts batches of new events and retries every batch that got no answer (connection
refused or cut) until one comes; meanwhile the server process is killed with SIGKILL at random
moments and restarted. Afterwards the store holds every acknowledged event exactly once, and every
event at all, since each was retried until acknowledged.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from serving.feedback import FeedbackStore
from serving.ports import free_port

EVENTS = 10_000
BATCH = 50
KILLS = 3


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "--factory", "serving.main:create_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]  # fmt: skip
    return subprocess.Popen(command, env=env)


@pytest.mark.slow  # three restarts of a server process: about 20-40 s
def test_sigkill_loses_no_acknowledged_event(served, tmp_path):
    port = free_port()
    db = tmp_path / "feedback.db"
    env = {
        **os.environ,
        "ALIGNREC_MODEL_DIR": str(served.model_dir),
        "ALIGNREC_FEEDBACK_URL": f"sqlite:///{db}",
    }
    env.pop("ALIGNREC_MODEL_URI", None)
    server = start_server(env, port)
    acknowledged: list[str] = []
    refused = cut = 0  # attempts that found the server down / that it dropped mid-request
    done = threading.Event()

    def post_all() -> None:
        nonlocal refused, cut
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for start in range(0, EVENTS, BATCH):
                ids = [f"ev-{i}" for i in range(start, start + BATCH)]
                events = [
                    {"client_event_id": e, "type": "click", "user_id": "u1", "item_id": "i1"} for e in ids
                ]
                while True:
                    try:
                        response = http.post("/v1/feedback", json={"events": events})
                    except httpx.ConnectError:
                        refused += 1
                    except httpx.TransportError:
                        cut += 1
                    else:
                        assert response.status_code == 200, response.text
                        acknowledged.extend(ids)
                        break
                    time.sleep(0.05)
        done.set()

    client = threading.Thread(target=post_all)
    client.start()
    rng = random.Random(0)
    kills = 0
    try:
        while kills < KILLS and not done.is_set():
            seen = len(acknowledged)
            while len(acknowledged) < seen + rng.randrange(500, 2000) and not done.is_set():
                time.sleep(0.005)  # let the server take some batches, then kill it mid-stream
            if done.is_set():
                break
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
            kills += 1
            server = start_server(env, port)
        client.join(timeout=300)
    finally:
        server.kill()
        server.wait()
    assert not client.is_alive()
    assert kills == KILLS, f"the client finished after {kills} kills: make the run longer"
    store = FeedbackStore(f"sqlite:///{db}")
    stored = store.client_event_ids()
    store.close()
    lost = set(acknowledged) - set(stored)
    assert len(acknowledged) == EVENTS
    assert lost == set(), f"{len(lost)} acknowledged events lost"
    assert len(stored) == len(set(stored)) == EVENTS  # each once
    print(f"{EVENTS} events, {kills} SIGKILLs, {cut} requests cut mid-flight, {refused} refused; 0 lost")
