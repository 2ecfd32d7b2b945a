"""Settings of the HTTP service, read from ``ALIGNREC_*`` environment variables (pydantic-settings).

``ALIGNREC_MODEL_DIR``        a saved ``Recommender`` folder (``RUN/<model>/recommender``), or
``ALIGNREC_MODEL_URI``        an MLflow registered model (``models:/name@production``), fetched
                              from ``ALIGNREC_TRACKING_URI`` (default: alignrec's MLflow database)
``ALIGNREC_FEEDBACK_URL``     SQLAlchemy URL of the feedback store (default: SQLite file
                              ``ALIGNREC_HOME/feedback.db``; ``postgresql+psycopg://...`` for PostgreSQL)
``ALIGNREC_RANKER_DIR``       a saved two-stage ranker (``benchmarks.rerank`` writes one) that answers
                              known users from its retrievers' merged candidates
``ALIGNREC_RETRIEVER_DIRS``   its retrievers as JSON, ``{"lightgcn": "RUN/lightgcn/recommender", ...}``;
                              default: ``<RANKER_DIR>/../<name>/recommender`` for each name the
                              ranker was trained with
``ALIGNREC_ADMIN_API_KEY``    key for ``POST /v1/admin/reload`` (unset: admin endpoints disabled)
``ALIGNREC_RELOAD_FILE``      a file through which the workers of one server share reloads
                              (``alignrec serve --workers N`` sets it): the worker that reloads
                              writes what it now serves there; the others follow within
                              ``ALIGNREC_RELOAD_POLL_SECONDS``
``ALIGNREC_SIZEFIT_MODEL``, ``ALIGNREC_MATCHER_MODEL``, ``ALIGNREC_CATALOG``: optional models

Every field is also a keyword of ``Settings(...)``, which is how tests and ``alignrec serve``
build one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alignrec.settings import home_dir
from serving.schemas import MAX_BATCH, MAX_K


def default_feedback_url() -> str:
    return f"sqlite:///{(home_dir() / 'feedback.db').resolve()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALIGNREC_", extra="ignore", frozen=True)

    model_dir: Path | None = Field(None, description="saved Recommender folder to serve")
    model_uri: str | None = Field(None, description="MLflow model URI, e.g. models:/alignrec-bpr@production")
    tracking_uri: str | None = Field(None, description="MLflow tracking URI for model_uri")
    feedback_url: str = Field(default_factory=default_feedback_url, description="SQLAlchemy URL")
    max_k: int = Field(100, ge=1, le=MAX_K, description="most items one request may ask for")
    max_batch_size: int = Field(1000, ge=1, le=MAX_BATCH, description="most events in one feedback batch")
    ranker_dir: Path | None = Field(None, description="saved TwoStageRanker folder (recsys.rerank)")
    retriever_dirs: dict[str, Path] | None = Field(
        None,
        description="the ranker's retrievers, name -> saved Recommender folder; default "
        "<ranker_dir>/../<name>/recommender",
    )
    candidates: int = Field(100, ge=1, le=MAX_K, description="items produced before allow-list filtering")
    admin_api_key: SecretStr | None = Field(
        None, description="X-API-Key for admin endpoints; None disables them"
    )
    sizefit_model: Path | None = Field(None, description="SizeRecommender file (`alignrec sizefit train`)")
    matcher_model: Path | None = Field(None, description="Matcher file (`alignrec match train`)")
    catalog: Path | None = Field(None, description="listings a single listing is matched against")
    vector_cache: Path | None = Field(None, description="text-vector cache folder for the matcher")
    threads: int = Field(1, ge=1, description="torch, BLAS and OpenMP (LightGBM) threads per worker process")
    reload_file: Path | None = Field(None, description="file through which several workers share reloads")
    reload_poll_seconds: float = Field(1.0, gt=0, le=3600, description="how often a worker reads it")

    @model_validator(mode="after")
    def _one_model_source(self) -> Settings:
        if (self.model_dir is None) == (self.model_uri is None):
            raise ValueError("set exactly one of ALIGNREC_MODEL_DIR and ALIGNREC_MODEL_URI")
        if self.retriever_dirs is not None and self.ranker_dir is None:
            raise ValueError("ALIGNREC_RETRIEVER_DIRS needs ALIGNREC_RANKER_DIR too")
        if self.catalog is not None and self.matcher_model is None:
            raise ValueError("ALIGNREC_CATALOG needs ALIGNREC_MATCHER_MODEL too")
        return self
