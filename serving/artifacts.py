"""What the service loads at start-up, and the one slot a reload swaps.

``ServingState`` holds the loaded model (the recommender, the optional two-stage ranker with its
retrievers, and their version), the optional size-fit model, matcher and catalog, and the feedback
store. Handlers read ``state.model`` once per request, so a reload that replaces it (one reference
assignment) lets every request in flight finish on the model it started with, while new requests
get the new one.
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
from recsys.experiment import RECOMMENDER_DIR
from recsys.recommender import Recommender
from serving.config import Settings
from serving.feedback import FeedbackStore
from serving.metrics import Metrics
from serving.ranking import TwoStage

if TYPE_CHECKING:
    import pandas as pd

    from product.matching.matcher import Matcher
    from product.sizefit.recommend import SizeRecommender


@dataclass(frozen=True)
class LoadedModel:
    """A recommender, the optional two-stage ranker, and where they came from; ``version`` is the
    sha256 of their manifests (which hold the checksum of every file), so the same saved models have
    the same version wherever they are served."""

    recommender: Recommender
    version: str
    model_dir: Path | None  # one of these two is set
    model_uri: str | None
    loaded_at: float
    ranker: TwoStage | None = None
    ranker_dir: Path | None = None

    @property
    def source(self) -> str:
        return self.model_uri or str(self.model_dir)

    def describe(self) -> dict[str, object]:
        return {
            "model": self.recommender.name,
            "version": self.version,
            "source": self.source,
            "ranker": None if self.ranker_dir is None else str(self.ranker_dir),
            "loaded_at": self.loaded_at,
        }


def load_model(
    model_dir: Path | None,
    model_uri: str | None,
    tracking_uri: str | None,
    ranker_dir: Path | None = None,
    retriever_dirs: dict[str, Path] | None = None,
) -> LoadedModel:
    """Load a saved Recommender folder, or fetch an MLflow model URI first, and warm its caches;
    with ``ranker_dir``, also the two-stage ranker and its retrievers (:func:`load_two_stage`)."""
    if model_uri is not None:
        from alignrec.settings import tracking_uri as default_tracking_uri
        from recsys.tracking import download_model

        with tempfile.TemporaryDirectory(prefix="alignrec-serve-") as tmp:
            folder = download_model(model_uri, tracking_uri or default_tracking_uri(), Path(tmp))
            recommender, manifest = _load_folder(folder)  # everything is read into memory
    elif model_dir is not None:
        recommender, manifest = _load_folder(Path(model_dir))
    else:
        raise ValueError("give a model folder or an MLflow model URI")
    ranker, manifests = None, [manifest]
    if ranker_dir is not None:
        ranker, ranker_manifests = load_two_stage(Path(ranker_dir), retriever_dirs)
        manifests += ranker_manifests
    version = hashlib.sha256(b"".join(manifests)).hexdigest()[:12]
    folder = None if model_dir is None or model_uri is not None else Path(model_dir)
    return LoadedModel(
        recommender, version, folder, model_uri, time.time(), ranker, ranker_dir and Path(ranker_dir)
    )


def retriever_folders(
    ranker_dir: Path, sources: tuple[str, ...], given: dict[str, Path] | None
) -> dict[str, Path]:
    """Where each retriever of the ranker is: ``given`` (name -> folder), or else the run-folder
    layout that ``benchmarks.rerank`` and ``alignrec train --out RUN`` write,
    ``<ranker_dir>/../<name>/recommender``."""
    if given is not None:
        missing = [name for name in sources if name not in given]
        if missing:
            raise ValueError(
                f"ALIGNREC_RETRIEVER_DIRS: the ranker in {ranker_dir} needs {list(sources)}, "
                f"missing {missing}"
            )
        return {name: Path(given[name]) for name in sources}
    return {name: ranker_dir.parent / name / RECOMMENDER_DIR for name in sources}


def load_two_stage(ranker_dir: Path, retriever_dirs: dict[str, Path] | None) -> tuple[TwoStage, list[bytes]]:
    """The saved ``TwoStageRanker`` in ``ranker_dir`` with its retrievers, checked and warmed, and
    the manifests of all of them (for the version)."""
    from recsys.rerank import MANIFEST as RANKER_MANIFEST
    from recsys.rerank import TwoStageRanker
    from serving.ranking import two_stage

    ranker = TwoStageRanker.load(ranker_dir, threads=1)
    manifests = [(ranker_dir / RANKER_MANIFEST).read_bytes()]
    retrievers = {}
    for name, folder in retriever_folders(ranker_dir, ranker.sources, retriever_dirs).items():
        retrievers[name], manifest = _load_folder(folder)
        manifests.append(manifest)
    return two_stage(ranker, retrievers), manifests


def _load_folder(folder: Path) -> tuple[Recommender, bytes]:
    """The recommender saved in ``folder``, caches warmed, and its manifest's bytes."""
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(f"{folder}: no saved recommender folder there")
    manifest = (folder / MANIFEST).read_bytes()
    recommender = Recommender.load(folder)
    # First calls build the popularity order, the item-similarity space and the user vectors for
    # the index: pay for them now rather than in the first requests.
    first_item = str(recommender.item_ids[0])
    recommender.similar_items(first_item, 1)
    recommender.recommend(str(recommender.user_ids[0]), 1)
    recommender.recommend(None, 1)
    return recommender, manifest


@dataclass
class ServingState:
    """Everything the handlers use, created by ``create_app``'s lifespan."""

    settings: Settings
    model: LoadedModel
    store: FeedbackStore
    metrics: Metrics
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


def load_state(settings: Settings, metrics: Metrics) -> ServingState:
    """Load every configured artifact and open the feedback store."""
    model = load_model(
        settings.model_dir,
        settings.model_uri,
        settings.tracking_uri,
        settings.ranker_dir,
        settings.retriever_dirs,
    )
    state = ServingState(settings, model, FeedbackStore(settings.feedback_url), metrics)
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
