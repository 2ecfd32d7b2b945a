"""What the service loads at start-up, and the one slot a reload swaps.

``ServingState`` holds the loaded recommender (with its version), the optional size-fit model,
matcher and catalog, the feedback store and the re-ranker. Handlers read ``state.model`` once per
request, so a reload that replaces it (one reference assignment) lets every request in flight
finish on the model it started with, while new requests get the new one.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from recsys.artifact import MANIFEST
from recsys.recommender import Recommender
from serving.config import Settings
from serving.feedback import FeedbackStore
from serving.metrics import Metrics
from serving.ranking import Ranker

if TYPE_CHECKING:
    import pandas as pd

    from product.matching.matcher import Matcher
    from product.sizefit.recommend import SizeRecommender


@dataclass(frozen=True)
class LoadedModel:
    """A recommender and where it came from; ``version`` is the sha256 of its manifest (which holds
    the checksum of every file), so the same saved model has the same version wherever it is served."""

    recommender: Recommender
    version: str
    model_dir: Path | None  # one of these two is set
    model_uri: str | None
    loaded_at: float

    @property
    def source(self) -> str:
        return self.model_uri or str(self.model_dir)

    def describe(self) -> dict[str, object]:
        return {
            "model": self.recommender.name,
            "version": self.version,
            "source": self.source,
            "loaded_at": self.loaded_at,
        }


def load_model(model_dir: Path | None, model_uri: str | None, tracking_uri: str | None) -> LoadedModel:
    """Load a saved Recommender folder, or fetch an MLflow model URI first, and warm its caches."""
    if model_uri is not None:
        from alignrec.settings import tracking_uri as default_tracking_uri
        from recsys.tracking import download_model

        with tempfile.TemporaryDirectory(prefix="alignrec-serve-") as tmp:
            folder = download_model(model_uri, tracking_uri or default_tracking_uri(), Path(tmp))
            recommender, version = _load_folder(folder)  # everything is read into memory
        return LoadedModel(recommender, version, None, model_uri, time.time())
    if model_dir is None:
        raise ValueError("give a model folder or an MLflow model URI")
    recommender, version = _load_folder(Path(model_dir))
    return LoadedModel(recommender, version, Path(model_dir), None, time.time())


def _load_folder(folder: Path) -> tuple[Recommender, str]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no saved recommender folder there")
    version = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()[:12]
    recommender = Recommender.load(folder)
    # First calls build the popularity order, the item-similarity space and the user vectors for
    # the index: pay for them now rather than in the first requests.
    first_item = str(recommender.item_ids[0])
    recommender.similar_items(first_item, 1)
    recommender.recommend(str(recommender.user_ids[0]), 1)
    recommender.recommend(None, 1)
    return recommender, version


@dataclass
class ServingState:
    """Everything the handlers use, created by ``create_app``'s lifespan."""

    settings: Settings
    model: LoadedModel
    store: FeedbackStore
    metrics: Metrics
    ranker: Ranker | None = None
    sizefit: SizeRecommender | None = None
    matcher: Matcher | None = None
    catalog: pd.DataFrame | None = None
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def swap(self, model: LoadedModel) -> LoadedModel:
        """Serve ``model`` from now on; returns the one it replaces."""
        previous, self.model = self.model, model
        self.metrics.set_model(model.recommender.name, model.version, model.source)
        return previous

    def close(self) -> None:
        self.store.close()


def load_state(settings: Settings, ranker: Ranker | None, metrics: Metrics) -> ServingState:
    """Load every configured artifact and open the feedback store."""
    model = load_model(settings.model_dir, settings.model_uri, settings.tracking_uri)
    state = ServingState(settings, model, FeedbackStore(settings.feedback_url), metrics, ranker)
    metrics.set_model(model.recommender.name, model.version, model.source)
    if settings.sizefit_model is not None:
        from product.sizefit.recommend import SizeRecommender

        state.sizefit = SizeRecommender.load(settings.sizefit_model)
    if settings.matcher_model is not None:
        from product.matching.matcher import Matcher
        from serving.matching import match_pair
        from serving.schemas import Listing

        state.matcher = Matcher.load(settings.matcher_model)
        # The first match loads the text encoder (seconds): do it now, not in a request.
        probe = Listing(id="probe", title="warm-up listing")
        match_pair(state.matcher, probe, probe, settings.vector_cache)
    if settings.catalog is not None:
        from product.matching.listing import load_listings

        state.catalog = load_listings(settings.catalog)
    return state
