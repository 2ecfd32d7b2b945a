import pytest
from pydantic import ValidationError

from serving.config import Settings


def test_settings_come_from_alignrec_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("ALIGNREC_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("ALIGNREC_MAX_K", "50")
    monkeypatch.setenv("ALIGNREC_ADMIN_API_KEY", "s3cret")
    monkeypatch.setenv("ALIGNREC_HOME", str(tmp_path / "home"))
    settings = Settings()
    assert settings.model_dir == tmp_path and settings.max_k == 50
    assert settings.admin_api_key.get_secret_value() == "s3cret" and "s3cret" not in repr(settings)
    assert settings.feedback_url == f"sqlite:///{(tmp_path / 'home' / 'feedback.db').resolve()}"
    assert Settings(model_dir=tmp_path).admin_api_key.get_secret_value() == "s3cret"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one of ALIGNREC_MODEL_DIR and ALIGNREC_MODEL_URI"),
        ({"model_dir": "a", "model_uri": "models:/x@production"}, "exactly one"),
        ({"model_dir": "a", "max_k": 0}, "max_k"),
        ({"model_dir": "a", "max_batch_size": 10**6}, "max_batch_size"),
        ({"model_dir": "a", "catalog": "c.jsonl"}, "ALIGNREC_MATCHER_MODEL"),
    ],
)
def test_bad_settings_are_refused_by_name(monkeypatch, options, message):
    for name in ("ALIGNREC_MODEL_DIR", "ALIGNREC_MODEL_URI"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match=message):
        Settings(**options)


def test_a_model_from_the_mlflow_registry_is_served(make_client, served, tmp_path):
    pytest.importorskip("mlflow")
    from recsys.tracking import MlflowCallback

    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowCallback("serving-test", tracking_uri=tracking_uri, register_as="serving-bpr")
    tracker.on_fit_start({})
    tracker.on_fit_end({"ndcg@10": 0.1}, {}, served.model_dir)
    tracker.client.set_registered_model_alias("serving-bpr", "production", tracker.model_version)
    client = make_client(
        model_dir=None, model_uri="models:/serving-bpr@production", tracking_uri=tracking_uri
    )
    ready = client.get("/readyz").json()["model"]
    local = make_client().get("/readyz").json()["model"]
    assert ready["source"] == "models:/serving-bpr@production" and ready["version"] == local["version"]
