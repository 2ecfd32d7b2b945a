"""MLflow tracking: runs written to a temporary SQLite store are read back with mlflow's own API."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from alignrec.settings import tracking_uri
from recsys.models.bpr import BPR
from recsys.tracking import MlflowCallback, download_model, log_run, mlflow_key
from recsys.train import fit


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module (creating its schema takes seconds)."""
    folder = tmp_path_factory.mktemp("mlflow")
    return folder, f"sqlite:///{folder / 'mlflow.db'}"


def runs(uri: str, experiment: str, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return mlflow.search_runs(experiment_names=[experiment])


def test_callback_logs_params_epochs_metrics_tags_artifacts_and_registers(store, tmp_path, monkeypatch):
    folder, uri = store
    model_dir = tmp_path / "run"
    (model_dir / "checkpoints").mkdir(parents=True)
    (model_dir / "recommender.pt").write_bytes(b"weights")
    (model_dir / "checkpoints" / "best.pt").write_bytes(b"best")

    callback = MlflowCallback("exp-a", run_name="bpr", tracking_uri=uri, register_as="alignrec-bpr")
    callback.on_fit_start({"model": "BPR", "lr": 0.001, "dims": [64, 32]})
    for epoch in range(3):
        callback.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "valid_ndcg@10": 0.1 * epoch})
    callback.on_fit_end(
        {"ndcg@10": 0.25, "recall@10": 0.2},
        {"protocol.dataset": "ml-100k", "protocol.seed": "2026"},
        model_dir,
    )

    frame = runs(uri, "exp-a", monkeypatch)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["run_id"] == callback.run_id and row["status"] == "FINISHED"
    assert row["tags.mlflow.runName"] == "bpr"
    assert (row["params.model"], row["params.lr"], row["params.dims"]) == ("BPR", "0.001", "[64, 32]")
    assert row["metrics.ndcg_at_10"] == 0.25 and row["metrics.recall_at_10"] == 0.2
    assert row["tags.protocol.dataset"] == "ml-100k" and row["tags.protocol.seed"] == "2026"

    client = MlflowClient(tracking_uri=uri)
    history = client.get_metric_history(callback.run_id, "valid_ndcg_at_10")
    assert [(m.step, round(m.value, 6)) for m in history] == [(0, 0.0), (1, 0.1), (2, 0.2)]
    listed = {f.path for f in client.list_artifacts(callback.run_id, "model")}
    assert listed == {"model/recommender.pt", "model/checkpoints"}
    # Artifacts sit beside the database, not in the current folder.
    assert (folder / "mlartifacts").is_dir()

    version = client.get_model_version("alignrec-bpr", callback.model_version)
    assert version.run_id == callback.run_id
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    fetched = mlflow.artifacts.download_artifacts(
        f"models:/alignrec-bpr/{callback.model_version}", dst_path=str(tmp_path / "fetched")
    )
    assert (Path(fetched) / "recommender.pt").read_bytes() == b"weights"
    local = download_model(f"models:/alignrec-bpr/{callback.model_version}", uri, tmp_path / "again")
    assert (local / "recommender.pt").read_bytes() == b"weights"
    with pytest.raises(ValueError, match="models:/no-such-model/1"):
        download_model("models:/no-such-model/1", uri)

    # A second registration under the same name adds a version.
    second = MlflowCallback("exp-a", tracking_uri=uri, register_as="alignrec-bpr")
    second.on_fit_start({"model": "BPR"})
    second.on_fit_end({"ndcg@10": 0.3}, {}, model_dir)
    assert int(second.model_version) == int(callback.model_version) + 1


def test_callback_through_the_training_loop(store, planted_split, monkeypatch):
    _, uri = store
    train = planted_split.train
    callback = MlflowCallback("exp-fit", run_name="bpr-fit", tracking_uri=uri)
    model = BPR(train.num_users, train.num_items, dim=8)
    result = fit(
        model,
        train,
        valid=planted_split.valid,
        epochs=3,
        batch_size=256,
        callbacks=[callback],
        progress=False,
    )
    callback.on_fit_end({"ndcg@10": result.best_score}, {"protocol.split": "random 80/10/10"})
    row = runs(uri, "exp-fit", monkeypatch).iloc[0]
    assert row["params.model"] == "BPR" and row["params.epochs"] == "3"
    losses = MlflowClient(tracking_uri=uri).get_metric_history(callback.run_id, "loss")
    assert [m.step for m in losses] == [0, 1, 2]
    assert row["metrics.ndcg_at_10"] == pytest.approx(result.best_score)


def test_log_run_for_models_without_a_loop(store, monkeypatch):
    _, uri = store
    run_id = log_run("exp-pop", {"model": "pop"}, {"hit@10": 0.5}, {"protocol.k": "10"}, tracking_uri=uri)
    row = runs(uri, "exp-pop", monkeypatch).iloc[0]
    assert row["run_id"] == run_id
    assert (row["params.model"], row["metrics.hit_at_10"], row["tags.protocol.k"]) == ("pop", 0.5, "10")


def test_misuse_raises(store):
    _, uri = store
    callback = MlflowCallback("exp-misuse", tracking_uri=uri, register_as="needs-artifacts")
    with pytest.raises(RuntimeError, match="before on_fit_start"):
        callback.on_fit_end({}, {})
    callback.on_fit_start({})
    with pytest.raises(RuntimeError, match="one per fit"):
        callback.on_fit_start({})
    with pytest.raises(ValueError, match="needs an artifact_dir"):
        callback.on_fit_end({}, {}, None)


def test_default_tracking_uri(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("ALIGNREC_HOME", str(tmp_path / "home"))
    assert tracking_uri() == f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert tracking_uri() == "sqlite:///elsewhere.db"


def test_mlflow_key():
    assert mlflow_key("valid_ndcg@10") == "valid_ndcg_at_10"
    assert mlflow_key("coverage(%)") == "coverage___"
    assert mlflow_key("a-b.c:d/e f") == "a-b.c:d/e f"


class _Interrupt:
    """A callback that raises on the second epoch, like a crash or Ctrl-C in the middle of training."""

    def __init__(self, error: BaseException):
        self.error = error

    def on_fit_start(self, params):
        pass

    def on_epoch_end(self, epoch, logs):
        if epoch == 1:
            raise self.error

    def on_fit_end(self, final_metrics, protocol, artifact_dir):
        pass

    def on_fit_error(self, error):
        pass


@pytest.mark.parametrize(
    ("error", "status"), [(RuntimeError("disk full"), "FAILED"), (KeyboardInterrupt(), "KILLED")]
)
def test_run_is_closed_when_training_raises(store, planted_split, monkeypatch, error, status):
    from recsys.experiment import TrainConfig, run_experiment

    _, uri = store
    experiment = f"exp-error-{status}"
    callback = MlflowCallback(experiment, run_name="bpr", tracking_uri=uri)
    config = TrainConfig(model="bpr", dim=8, epochs=4, batch_size=256)
    with pytest.raises(type(error)):
        run_experiment(planted_split, config, callbacks=[callback, _Interrupt(error)], progress=False)
    found = runs(uri, experiment, monkeypatch)
    assert list(found["status"]) == [status]
    assert found["tags.error"][0].startswith(type(error).__name__)
    assert "metrics.loss" in found  # the epochs before the error were logged


def test_registered_model_is_the_saved_folder(store, tmp_path, planted_split):
    from recsys.experiment import TrainConfig, run_experiment
    from recsys.recommender import Recommender

    _, uri = store
    callback = MlflowCallback("exp-registry", run_name="bpr", tracking_uri=uri, register_as="alignrec-folder")
    config = TrainConfig(model="bpr", dim=8, epochs=2, batch_size=256)
    result = run_experiment(planted_split, config, tmp_path / "run", callbacks=[callback], progress=False)
    listed = {f.path for f in MlflowClient(tracking_uri=uri).list_artifacts(callback.run_id, "model")}
    assert "model/manifest.json" in listed and not any("checkpoint" in p for p in listed)
    MlflowClient(tracking_uri=uri).set_registered_model_alias(
        "alignrec-folder", "production", callback.model_version
    )
    served = Recommender.load(download_model("models:/alignrec-folder@production", uri, tmp_path / "served"))
    local = Recommender.load(result.artifact)
    user = planted_split.train.user_ids[1]
    assert served.recommend(user, 5) == local.recommend(user, 5)
