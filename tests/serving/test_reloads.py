"""Workers of one server follow each other's reloads through the reload file."""

from __future__ import annotations

import json
import time

from serving.artifacts import load_model
from serving.reloads import announce, announced


def wait_for_version(client, user: str, version: str, seconds: float = 20.0) -> str:
    deadline = time.monotonic() + seconds
    while True:
        seen = client.post("/v1/recommendations", json={"user_id": user}).json()["model_version"]
        if seen == version or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_two_apps_sharing_a_reload_file_serve_the_same_version(make_client, served, admin, tmp_path):
    shared = tmp_path / "reload.json"
    first = make_client(reload_file=shared, reload_poll_seconds=0.05)
    second = make_client(reload_file=shared, reload_poll_seconds=0.05)
    user = "u1"
    before = second.post("/v1/recommendations", json={"user_id": user}).json()["model_version"]
    swap = first.post("/v1/admin/reload", headers=admin, json={"model_dir": str(served.other_model_dir)})
    assert swap.status_code == 200
    after = swap.json()["current"]["version"]
    assert after != before and announced(shared)["version"] == after
    assert wait_for_version(second, user, after) == after  # the other "worker" followed
    assert f'version="{after}"' in second.get("/metrics").text


def test_a_bad_announcement_leaves_the_served_model_alone(make_client, served, tmp_path):
    shared = tmp_path / "reload.json"
    client = make_client(reload_file=shared, reload_poll_seconds=0.05)
    version = client.post("/v1/recommendations", json={"user_id": "u1"}).json()["model_version"]
    shared.write_text("not json")
    assert announced(shared) is None
    shared.write_text(json.dumps({"model_dir": str(tmp_path / "nothing"), "model_uri": None, "version": "x"}))
    time.sleep(0.5)  # several polls: the failed load is logged, the model kept
    assert client.post("/v1/recommendations", json={"user_id": "u1"}).json()["model_version"] == version
    good = load_model(served.other_model_dir, None, None)
    announce(shared, good)
    assert wait_for_version(client, "u1", good.version) == good.version
