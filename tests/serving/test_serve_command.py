import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from alignrec.commands import serve
from serving.ports import free_port

runner = CliRunner()
app = typer.Typer()
app.command()(serve.serve)


@pytest.fixture
def no_alignrec_env(monkeypatch):
    import os

    for name in [
        n for n in os.environ if n.startswith("ALIGNREC_") and n not in ("ALIGNREC_HOME", "ALIGNREC_DATA_DIR")
    ]:
        monkeypatch.delenv(name)
    for name in ("PROMETHEUS_MULTIPROC_DIR", "ALIGNREC_RELOAD_FILE"):  # `--workers 2` sets them: undone
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


def test_serve_prints_the_docs_url_and_hands_settings_to_uvicorn(no_alignrec_env, served):
    import os

    import uvicorn

    calls = []
    no_alignrec_env.setattr(
        uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs, dict(os.environ)))
    )
    args = ["--model-dir", str(served.model_dir), "--port", "8123", "--workers", "2", "--no-reuse-port"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "OpenAPI docs: http://127.0.0.1:8123/docs" in result.output
    assert "admin endpoints disabled" in result.output
    [(args, kwargs, env)] = calls
    assert args == ("serving.main:create_app",)
    assert kwargs["factory"] and kwargs["workers"] == 2 and kwargs["port"] == 8123
    assert env["ALIGNREC_MODEL_DIR"] == str(served.model_dir.resolve())
    assert Path(env["PROMETHEUS_MULTIPROC_DIR"]).is_dir()  # the workers share their metrics there
    assert Path(env["ALIGNREC_RELOAD_FILE"]).parent == Path(env["PROMETHEUS_MULTIPROC_DIR"])  # and reloads


def test_several_workers_get_their_own_reuse_port_sockets_by_default(no_alignrec_env, served):
    from serving import reuse_port

    calls = []
    no_alignrec_env.setattr(reuse_port, "run_workers", lambda *args: calls.append(args) or 0)
    result = runner.invoke(app, ["--model-dir", str(served.model_dir), "--port", "8124", "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert calls == [("serving.main:create_app", "127.0.0.1", 8124, 3, "info")]


# Starts a real two-worker server: about 10 s.
def test_two_workers_share_metrics_and_reloads(served, tmp_path):
    import os
    import time

    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIGNREC_", "PROMETHEUS_"))}
    env["ALIGNREC_HOME"] = str(tmp_path)
    env["ALIGNREC_ADMIN_API_KEY"] = "key"
    env["PROMETHEUS_MULTIPROC_DIR"] = str(shared := tmp_path / "prometheus")
    shared.mkdir()
    command = [sys.executable, "-m", "alignrec", "serve", "--model-dir", str(served.model_dir), "--port",
               str(port), "--workers", "2", "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server)
        for _ in range(30):  # a new connection each time: the kernel spreads them over the workers
            response = httpx.post(f"{base}/v1/recommendations", json={"user_id": "u1", "k": 3})
            assert response.status_code == 200
        text = httpx.get(f"{base}/metrics").text
        other = {"model_dir": str(served.other_model_dir)}
        swap = httpx.post(f"{base}/v1/admin/reload", headers={"X-API-Key": "key"}, json=other)
        assert swap.status_code == 200, swap.text
        new = swap.json()["current"]["version"]
        time.sleep(3)  # the other worker polls the reload file every second, then loads
        versions = {
            httpx.post(f"{base}/v1/recommendations", json={"user_id": "u1"}).json()["model_version"]
            for _ in range(30)
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    counts = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("alignrec_http_requests_total{") and 'route="/v1/recommendations"' in line
    ]
    assert sum(counts) == 30, text  # whichever worker answered /metrics counted both
    assert len({path.stem.rsplit("_", 1)[1] for path in shared.glob("gauge_*.db")}) == 2  # two writers
    from prometheus_client.mmap_dict import MmapedDict

    served_by = [
        sum(
            v
            for key, v, *_ in MmapedDict.read_all_values_from_file(str(path))
            if "/v1/recommendations" in key
        )
        for path in shared.glob("counter_*.db")
    ]
    assert len(served_by) == 2 and min(served_by) > 0, served_by  # SO_REUSEPORT spread the connections
    assert 'alignrec_model_info{model="bpr"' in text
    assert versions == {new}  # every worker serves the reloaded model


def wait_ready(base: str, server: subprocess.Popen, seconds: float = 120) -> None:
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {server.stdout.read().decode()}")
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "exactly one of"), (["--model-dir", "nowhere"], "nowhere: no saved recommender folder")],
)
def test_serve_refuses_bad_options_before_starting(no_alignrec_env, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and message in str(result.exception)


def test_the_commands_import_nothing_heavy():
    code = (
        "import sys\n"
        "from alignrec.commands import feedback, serve\n"
        "heavy = ('fastapi', 'uvicorn', 'sqlalchemy', 'torch', 'pandas', 'serving', 'prometheus_client')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# Trains a model and starts a real uvicorn server in a subprocess: about 5 s.
def test_the_demo_calls_every_endpoint(tmp_path):
    from alignrec.demos import serving_demo

    console = Console(record=True, width=200)
    serving_demo.run(tmp_path / "serving", console)
    text = console.export_text()
    for line in ("GET /healthz -> 200", "POST /v1/recommendations -> 200", "POST /v1/recommendations -> 422",
                 "/similar?k=5 -> 200", "POST /v1/feedback -> 200", "POST /v1/admin/reload -> 200",
                 "GET /metrics -> 200", '"stored": 0, "duplicates": 3'):  # fmt: skip
        assert line in text
    # The served slates came back from the feedback store as user-simulator exposures.
    read, kept = map(int, re.search(r"store: (\d+) read, (\d+) with a click kept", text).groups())
    assert read == 1500 and 0 < kept <= read  # 500 users x 3 rounds
    assert "bpr (the served retriever): accuracy" in text


def test_serve_hands_the_ranker_and_its_retrievers_to_the_app(no_alignrec_env, served, ranker_dir):
    import json
    import os

    import uvicorn

    calls = []
    no_alignrec_env.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(dict(os.environ)))
    for name in ("MODEL_DIR", "RANKER_DIR", "RETRIEVER_DIRS"):  # the command sets them: undone after
        no_alignrec_env.setenv(f"ALIGNREC_{name}", "")
        no_alignrec_env.delenv(f"ALIGNREC_{name}")
    pop = ranker_dir.parent / "pop" / "recommender"
    args = [
        "--model-dir",
        str(served.model_dir),
        "--ranker-dir",
        str(ranker_dir),
        "--retriever",
        f"pop={pop}",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [env] = calls
    assert env["ALIGNREC_RANKER_DIR"] == str(ranker_dir.resolve())
    assert json.loads(env["ALIGNREC_RETRIEVER_DIRS"]) == {"pop": str(pop.resolve())}
    bad = runner.invoke(app, [*args[:4], "--retriever", "pop"])
    assert isinstance(bad.exception, ValueError) and "NAME=FOLDER" in str(bad.exception)
