"""`alignrec simulate abtest` end to end on a tiny synthetic run: flags, the example config with flag
overrides, the report folder, the MLflow run, bad config values."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from alignrec.cli import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "abtest.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("abtest") / "run"
    trained = runner.invoke(app, ["train", "-m", "pop", "-m", "itemknn", "--no-track", "--out", str(folder)])
    assert trained.exit_code == 0, trained.output
    return folder


def simulate(*args: str):
    return runner.invoke(app, ["simulate", "abtest", *args], env={"COLUMNS": "200"})


def test_abtest_reports_arms_and_tests(run):
    arms = ["-a", "pop", "-a", "itemknn"]
    result = simulate("--run", str(run), *arms, "--rounds", "4", "-k", "5", "--no-track")
    assert result.exit_code == 0, result.output
    folder = run / "abtest-ab"
    report = json.loads((folder / "report.json").read_text())
    assert set(report["arms"]) == {"pop", "itemknn"} and "itemknn" in report["comparisons"]
    assert report["settings"]["rounds"] == 4 and report["settings"]["k"] == 5
    assert len(report["trajectories"]["itemknn"]["round_ctr"]["ctr"]) == 4
    files = {p.name for p in folder.iterdir()}
    assert {"report.md", "report.html", "ctr_per_round.png", "lorenz.png"} <= files
    assert "always-valid sequential test" in result.output and "naive daily peeking" in result.output
    aa = simulate("--run", str(run), "-a", "pop", "-a", "pop", "--rounds", "2", "--salt", "aa", "--no-track")
    assert aa.exit_code == 0, aa.output
    assert set(json.loads((run / "abtest-aa" / "report.json").read_text())["arms"]) == {"pop#0", "pop#1"}
    missing = simulate("--run", str(run.parent / "none"))
    assert missing.exit_code != 0 and "no run folder there" in str(missing.exception)


def test_example_config_runs_with_flag_overrides_and_one_mlflow_run(run, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report_dir = tmp_path / "report"
    result = simulate(
        "--config", str(EXAMPLE), "--run", str(run), "--rounds", "3", "--report-dir", str(report_dir),
        "--tracking-uri", uri,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = json.loads((report_dir / "report.json").read_text())["settings"]
    assert settings["rounds"] == 3 and settings["salt"] == "example"  # the flag wins, the file's salt stays
    assert settings["arms"] == ["pop", "itemknn"]
    client = mlflow.MlflowClient(tracking_uri=uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "alignrec-abtest"]
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.data.params["salt"] == "example" and "itemknn/ctr" in logged.data.metrics
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "itemknn/round_ctr")] == [1, 2, 3]


@pytest.mark.parametrize(
    "text, message",
    [
        ("run: {run}\nrounds: 0\n", "rounds: expected an integer >= 1"),
        ("run: {run}\nrounds: ten\n", "rounds: expected an integer"),
        ("run: {run}\narms: [pop]\n", "arms: expected at least two models"),
        ("run: {run}\nroundz: 3\n", "unknown field(s) ['roundz']"),
        ("- rounds\n", "expected a mapping of config fields"),
        ("rounds: [1\n", "not valid YAML"),
        ("policy_urls: {{lightgcn: 'http://x'}}\n", "policy_urls: expected model names among the arms"),
    ],
)
def test_bad_config_names_the_file_and_field(run, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text.format(run=run))
    result = simulate("--config", str(path), "--no-track")
    assert result.exit_code != 0 and isinstance(result.exception, ValueError)
    assert str(result.exception).startswith(str(path)) and message in str(result.exception)


def test_a_saved_state_is_refused_without_resume_and_resumed_with_it(run):
    args = ["--run", str(run), "-a", "pop", "-a", "itemknn", "--rounds", "3", "--salt", "st", "--no-track"]
    first = simulate(*args)
    assert first.exit_code == 0, first.output
    state = run / "abtest-st.state.npz"
    report = run / "abtest-st" / "report.json"
    assert state.is_file()
    numbers = json.loads(report.read_text())
    again = simulate(*args)
    assert again.exit_code != 0 and "pass --resume to continue it" in str(again.exception)
    resumed = simulate(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(report.read_text()) == numbers  # a finished state gives back its result
    other = simulate(*args, "--resume", "-k", "4")
    assert other.exit_code != 0 and "k" in str(other.exception)


def test_retraining_diversity_and_ratings(run):
    args = ["--run", str(run), "-a", "pop", "-a", "itemknn", "--rounds", "4", "--no-track"]
    static = simulate(*args, "--salt", "rt")
    assert static.exit_code == 0, static.output
    before = json.loads((run / "abtest-rt" / "report.json").read_text())
    retrained = simulate(*args, "--salt", "rt", "--retrain-every", "2", "--state", str(run / "rt2.npz"))
    assert retrained.exit_code == 0, retrained.output
    after = json.loads((run / "abtest-rt" / "report.json").read_text())
    assert after["settings"]["retrain_every"] == 2 and "retrain_every" not in before["settings"]
    assert 0 < after["arms"]["itemknn"]["diversity"] <= 2
    assert len(after["trajectories"]["pop"]["diversity"]) == 4
    assert after["arms"]["pop"]["ctr"] != before["arms"]["pop"]["ctr"]  # the refits changed the slates
    assert 1 <= after["arms"]["itemknn"]["mean_rating"] <= 5  # the split has ratings
    assert "mean rating" in static.output


@pytest.mark.slow
def test_retraining_on_ray_workers_gives_the_one_process_report(run):
    pytest.importorskip("ray")
    args = [
        "--run",
        str(run),
        "-a",
        "pop",
        "-a",
        "itemknn",
        "--rounds",
        "4",
        "--no-track",
        "--retrain-every",
        "2",
    ]
    one = simulate(*args, "--salt", "rr", "--state", str(run / "rr.npz"))
    assert one.exit_code == 0, one.output
    local = json.loads((run / "abtest-rr" / "report.json").read_text())
    sharded = simulate(*args, "--salt", "rr", "--workers", "2")
    assert sharded.exit_code == 0, sharded.output
    remote = json.loads((run / "abtest-rr" / "report.json").read_text())
    assert remote["settings"]["retrain_every"] == 2
    assert remote["arms"] == local["arms"] and remote["comparisons"] == local["comparisons"]


def test_an_arm_served_over_http_gives_the_in_process_result(run, tmp_path):
    pytest.importorskip("fastapi")
    import socket
    import threading

    import uvicorn

    from recsys.experiment import RECOMMENDER_DIR
    from serving.config import Settings
    from serving.main import create_app

    feedback = f"sqlite:///{tmp_path / 'f.db'}"
    app_ = create_app(Settings(model_dir=run / "itemknn" / RECOMMENDER_DIR, feedback_url=feedback))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app_, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run)
    thread.start()
    args = ["--run", str(run), "-a", "pop", "-a", "itemknn", "--rounds", "3", "--salt", "http", "--no-track"]
    args.append("--in-process")  # the arms not given a URL
    try:
        for _ in range(100):  # until the server listens
            if server.started:
                break
            time.sleep(0.05)
        url = f"itemknn=http://127.0.0.1:{port}"
        report = ["--report-dir", str(tmp_path / "http"), "--state", str(tmp_path / "h.npz")]
        served = simulate(*args, "--policy-url", url, "--send-feedback", *report)
        stored = app_.state.serving.store.count()
    finally:
        server.should_exit = True
        thread.join(10)
    assert served.exit_code == 0, served.output
    local = simulate(*args, "--report-dir", str(tmp_path / "local"), "--state", str(tmp_path / "l.npz"))
    assert local.exit_code == 0, local.output
    remote = json.loads((tmp_path / "http" / "report.json").read_text())
    here = json.loads((tmp_path / "local" / "report.json").read_text())
    assert remote["settings"].pop("policy_urls") == {"itemknn": f"http://127.0.0.1:{port}"}
    assert remote == here and "over HTTP: itemknn" in served.output
    served_arm = here["arms"]["itemknn"]
    assert stored == served_arm["impressions"] + served_arm["clicks"] > 0  # an event per impression and click


def test_by_default_the_arms_are_served_over_http_from_this_process(run, tmp_path):
    pytest.importorskip("fastapi")
    args = ["--run", str(run), "-a", "pop", "-a", "itemknn", "--rounds", "3", "--salt", "dflt", "--no-track"]
    served = simulate(*args, "--report-dir", str(tmp_path / "served"), "--state", str(tmp_path / "s.npz"))
    assert served.exit_code == 0, served.output
    assert "arms served over HTTP from this process: pop at http://127.0.0.1:" in served.output
    local = simulate(
        *args, "--in-process", "--report-dir", str(tmp_path / "local"), "--state", str(tmp_path / "l.npz")
    )
    assert local.exit_code == 0, local.output and "served over HTTP" not in local.output
    remote = json.loads((tmp_path / "served" / "report.json").read_text())
    here = json.loads((tmp_path / "local" / "report.json").read_text())
    assert remote["settings"].pop("served_from_this_process") == ["itemknn", "pop"]
    assert remote == here  # the same slates and clicks through the API as in process


def tiny_lastfm(folder: Path, users: int = 60, artists: int = 40, tags: int = 6) -> Path:
    """A seeded release in the HetRec 2011 layout: tagged artists and users' play counts."""
    rng = np.random.default_rng(0)

    def write(name: str, header: str, rows) -> None:
        text = "\n".join([header, *("\t".join(map(str, r)) for r in rows)]) + "\n"
        with gzip.open(folder / name, "wt", encoding="utf-8") as handle:
            handle.write(text)

    folder.mkdir()
    names = [(a, f"artist {a}", "", "") for a in range(1, artists + 1)]
    write("artists.dat.gz", "id\tname\turl\tpictureURL", names)
    (folder / "tags.dat").write_text(
        "tagID\ttagValue\n" + "".join(f"{t}\tgenre{t}\n" for t in range(1, tags + 1)), encoding="latin-1"
    )
    tagged = [
        (u, a, int(rng.integers(1, tags + 1)), 1, 1, 2009) for a in range(1, artists + 1) for u in (1, 2, 3)
    ]
    write("user_taggedartists.dat.gz", "userID\tartistID\ttagID\tday\tmonth\tyear", tagged)
    listens = [
        (u, a, int(rng.integers(1, 500)))
        for u in range(1, users + 1)
        for a in rng.choice(np.arange(1, artists + 1), size=8, replace=False)
    ]
    write("user_artists.dat.gz", "userID\tartistID\tweight", listens)
    return folder


def test_creators_on_a_tiny_lastfm_release(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    data = tiny_lastfm(tmp_path / "lastfm")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["--data", str(data), "--creators", "8", "--epochs", "1", "--rounds", "4", "-k", "5"]
    result = simulate_creators(*args, "--report-dir", str(tmp_path / "report"), "--tracking-uri", uri)
    assert result.exit_code == 0, result.output
    numbers = json.loads((tmp_path / "report" / "report.json").read_text())
    assert set(numbers["arms"]) == {"popularity", "vbpr"} and numbers["settings"]["creators"] == 8
    history = numbers["trajectories"]["vbpr"]["creators"]
    assert history["active_creators"][0] <= 8 and sum(history["new_items"]) > 0
    files = {p.name for p in (tmp_path / "report").iterdir()}
    assert {"creators_active_creators.png", "creators_genre_entropy.png", "report.html"} <= files
    assert "## Creators" in (tmp_path / "report" / "report.md").read_text()
    assert "creators active after 4 rounds" in result.output
    client = mlflow.MlflowClient(tracking_uri=uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("alignrec-abtest").experiment_id])
    assert len(client.get_metric_history(logged.info.run_id, "vbpr/creators/active_creators")) == 4
    bad = simulate_creators(*args, "-a", "popularity", "-a", "lightgcn", "--no-track")
    assert bad.exit_code != 0 and "arms: expected at least two of ('popularity', 'vbpr')" in str(
        bad.exception
    )


def simulate_creators(*args: str):
    return runner.invoke(app, ["simulate", "creators", *args], env={"COLUMNS": "200"})
