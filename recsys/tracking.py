"""MLflow tracking for training runs: a training-loop callback and a one-call logger.

The only module that imports ``mlflow``. The tracking URI is an explicit argument; entry points
choose it (``alignrec.settings.tracking_uri``: ``MLFLOW_TRACKING_URI`` when set, else
``sqlite:///<ALIGNREC_HOME>/mlflow.db``). A SQLite store keeps its artifacts in ``mlartifacts``
beside the database. Browse runs with ``mlflow ui --backend-store-uri <uri>``.

MLflow names allow only letters, digits and ``_ - . : / space``, so metric and parameter keys are
rewritten: ``ndcg@10`` is logged as ``ndcg_at_10``.

Registering (``register_as``): MLflow 3's ``mlflow.register_model("runs:/<id>/model")`` refuses a
plain artifact folder ("Unable to find a logged_model"), so the registered version is created with
``MlflowClient.create_model_version`` whose source is the run's ``runs:/<id>/model`` folder;
``download_model("models:/<name>@<alias>")`` then fetches the saved recommender folder.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import unquote

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException

ARTIFACT_PATH = "model"
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a parameter value


def mlflow_key(key: str) -> str:
    """A metric/param name MLflow accepts: ``valid_ndcg@10`` -> ``valid_ndcg_at_10``."""
    return re.sub(r"[^\w.\- :/]", "_", key.replace("@", "_at_"))


def _param_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:MAX_PARAM_LENGTH]


def _experiment_id(client: MlflowClient, name: str, tracking_uri: str) -> str:
    """Id of the experiment ``name``, created on first use.

    For a SQLite store the artifacts go beside the database file, not into the current folder.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        database = Path(unquote(tracking_uri.removeprefix("sqlite:///")))  # relative or /absolute
        location = (database.parent / "mlartifacts").resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


class MlflowCallback:
    """Training-loop callback that records one run: params, per-epoch logs, final metrics, model.

    Args:
        experiment: MLflow experiment name (created when missing).
        run_name: display name of the run.
        tracking_uri: where to log (e.g. ``sqlite:///runs/mlflow.db``).
        register_as: when set, ``on_fit_end`` registers the logged artifact folder as a new
            version of this registered model.

    Attributes:
        run_id: the MLflow run id (None until ``on_fit_start``).
        tracking_uri: where the run is.
        model_version: the registered version number, when ``register_as`` was given.
    """

    def __init__(
        self,
        experiment: str,
        run_name: str | None = None,
        *,
        tracking_uri: str,
        register_as: str | None = None,
    ) -> None:
        self.experiment = experiment
        self.run_name = run_name
        self.tracking_uri = tracking_uri
        self.register_as = register_as
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        self.run_id: str | None = None
        self.model_version: str | None = None

    def on_fit_start(self, params: dict[str, object]) -> None:
        """Start the run and log the hyperparameters."""
        if self.run_id is not None:
            raise RuntimeError(f"MlflowCallback already tracks run {self.run_id}; use one per fit")
        experiment_id = _experiment_id(self.client, self.experiment, self.tracking_uri)
        self.run_id = self.client.create_run(experiment_id, run_name=self.run_name).info.run_id
        self.client.log_batch(
            self.run_id,
            params=[Param(mlflow_key(k), _param_value(v)) for k, v in params.items()],
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Log the epoch's numbers (loss, validation metrics, seconds) with ``step=epoch``."""
        self._log_metrics(logs, step=epoch)

    def on_fit_end(
        self,
        final_metrics: dict[str, float],
        protocol: dict[str, str],
        artifact_dir: Path | None = None,
        artifact_path: str = ARTIFACT_PATH,
    ) -> None:
        """Log final metrics, the protocol as tags and ``artifact_dir`` as artifacts (under
        ``artifact_path`` in the run); end the run."""
        if self.run_id is None:
            raise RuntimeError("MlflowCallback.on_fit_end before on_fit_start")
        if self.register_as and artifact_dir is None:
            raise ValueError(f"register_as={self.register_as!r} needs an artifact_dir to register")
        self._log_metrics(final_metrics, step=0)
        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in protocol.items()])
        if artifact_dir is not None:
            self.client.log_artifacts(self.run_id, str(artifact_dir), artifact_path)
        self.client.set_terminated(self.run_id, RunStatus.to_string(RunStatus.FINISHED))
        if self.register_as:
            self.model_version = self._register(self.register_as)

    def on_fit_error(self, error: BaseException) -> None:
        """Mark the run FAILED (KILLED on Ctrl-C) with the error as a tag, so no run stays RUNNING."""
        if self.run_id is None:
            return
        run = self.client.get_run(self.run_id)
        if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
            return  # already ended (e.g. the error came after on_fit_end)
        killed = isinstance(error, KeyboardInterrupt)
        message = f"{type(error).__name__}: {error}"[:5000]
        self.client.set_tag(self.run_id, "error", message)
        status = RunStatus.KILLED if killed else RunStatus.FAILED
        self.client.set_terminated(self.run_id, RunStatus.to_string(status))

    def _log_metrics(self, values: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(mlflow_key(k), float(v), now, step) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def _register(self, name: str) -> str:
        try:
            self.client.create_registered_model(name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = f"runs:/{self.run_id}/{ARTIFACT_PATH}"
        return str(self.client.create_model_version(name, source, run_id=self.run_id).version)


def log_run(
    experiment: str,
    params: dict[str, object],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifact_dir: Path | None = None,
    *,
    tracking_uri: str,
    run_name: str | None = None,
    register_as: str | None = None,
) -> str:
    """Record a finished run in one call (for models without a training loop); returns its id."""
    callback = MlflowCallback(experiment, run_name, tracking_uri=tracking_uri, register_as=register_as)
    callback.on_fit_start(params)
    callback.on_fit_end(metrics, tags, artifact_dir)
    return callback.run_id


def download_model(model_uri: str, tracking_uri: str, dst: Path | None = None) -> Path:
    """Fetch a registered model's folder (``models:/<name>@<alias>``, ``models:/<name>/<version>``
    or ``runs:/<run id>/model``) from the store at ``tracking_uri`` into ``dst`` (a new temporary
    folder when None) and return the local path of the folder."""
    import tempfile

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    source = model_uri
    try:
        if model_uri.startswith("models:/"):
            spec = model_uri.removeprefix("models:/")
            if "@" in spec:
                name, alias = spec.split("@", 1)
                source = client.get_model_version_by_alias(name, alias).source
            else:
                name, version = spec.rsplit("/", 1)
                source = client.get_model_version(name, version).source
        if not source.startswith("runs:/"):
            raise ValueError(
                f"{model_uri}: expected models:/NAME@ALIAS, models:/NAME/VERSION or runs:/ID/PATH"
            )
        run_id, _, path = source.removeprefix("runs:/").partition("/")
        folder = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="alignrec-model-"))
        folder.mkdir(parents=True, exist_ok=True)
        return Path(client.download_artifacts(run_id, path or ARTIFACT_PATH, str(folder)))
    except MlflowException as error:
        raise ValueError(f"{model_uri}: cannot fetch it from {tracking_uri} ({error.message})") from None
