"""Request and response bodies of the HTTP API, apart from the domain objects they carry.

Every model forbids unknown fields, takes JSON types strictly (``"10"`` is not an integer, ``1`` is
not an id) and refuses NaN and infinities, so that a bad request is answered 422 with the field
named instead of being guessed at. Ids are strings, as in the saved models' catalogs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from product.sizefit.records import PLAUSIBLE

MAX_K = 1000  # the API's ceiling on items per answer; a server may set a lower one (Settings.max_k)
MAX_BATCH = 10_000  # the API's ceiling on events per feedback batch (Settings.max_batch_size)
MAX_IDS = 10_000  # item ids in one list (recent, exclude, allow)

Id = Annotated[str, Field(min_length=1, max_length=256)]
Text = Annotated[str, Field(max_length=10_000)]
EpochSeconds = Annotated[float, Field(ge=0, le=4_102_444_800, description="Unix time in seconds")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# ----- recommendations -------------------------------------------------------------------------


class Stage(StrEnum):
    """Which stage produced the answer's order."""

    retrieval = "retrieval"  # the model's scores (exactly or through the FAISS index)
    reranker = "reranker"  # the two-stage ranker: several retrievers' candidates, re-ordered by LightGBM
    cold_start = "cold_start"  # unknown user: item-to-item from recent items, or popularity


class RecommendationRequest(Body):
    user_id: Id | None = Field(
        None, description="known user; unknown or absent users get a cold-start answer"
    )
    recent_items: list[Id] = Field(
        default_factory=list,
        max_length=MAX_IDS,
        description="items the user just interacted with: excluded, and they drive item-to-item "
        "answers for users the model does not know",
    )
    k: int = Field(10, ge=1, le=MAX_K, description="number of items")
    exclude_seen: bool = Field(True, description="leave out the items the user had in training")
    exclude_items: list[Id] = Field(
        default_factory=list, max_length=MAX_IDS, description="never recommend these"
    )
    allow_items: list[Id] | None = Field(
        None,
        min_length=1,
        max_length=MAX_IDS,
        description="recommend only these; applied to the retrieved candidates (Settings.candidates), "
        "so fewer than k items may come back",
    )


class RecommendationResponse(Body):
    items: list[str]
    scores: list[float]
    stage: Stage
    source: str = Field(
        description="the retrieval path: exact, index, item_to_item, popularity, or the two-stage "
        "ranker's retrievers joined by + (lightgcn+bpr+itemknn+pop)"
    )
    model_version: str
    ignored_items: list[str] = Field(description="given item ids that are not in the catalog")
    slate_id: str = Field(
        description="this answer's id, new for every request: send it back as slate_id on the "
        "feedback events of these items (their impressions and clicks), so the slate can be rebuilt"
    )


class SimilarItemsResponse(Body):
    item_id: str
    items: list[str]
    scores: list[float]
    model_version: str


# ----- product matching ------------------------------------------------------------------------


class Listing(Body):
    """One product listing in the matcher's schema (``product.matching.listing``); no image paths."""

    id: Id
    title: str = Field(min_length=1, max_length=2000)
    description: Text = ""
    brand: str = Field("", max_length=500)
    category: str = Field("", max_length=500)
    price: float | None = Field(None, ge=0)
    specifications: dict[Id, Text] = Field(default_factory=dict, max_length=500)
    shop: str = Field("", max_length=500)


class MatchRequest(Body):
    left: Listing
    right: Listing | None = Field(None, description="score this pair; omit to search the loaded catalog")
    k: int = Field(5, ge=1, le=100, description="catalog candidates to return when right is omitted")


class PairScore(Body):
    right_id: str
    probability: float
    match: bool = Field(description="probability >= the matcher's F1-optimal threshold")
    why: str = Field(description="the features that pushed the score most towards the decision (TreeSHAP)")


class MatchResponse(Body):
    left_id: str
    threshold: float
    matches: list[PairScore]


# ----- size and fit ----------------------------------------------------------------------------


def _plausible(name: str, description: str) -> object:
    low, high = PLAUSIBLE[name]
    return Field(None, ge=low, le=high, description=description)


class Measurements(Body):
    height_cm: float | None = _plausible("height_cm", "height in cm")
    weight_kg: float | None = _plausible("weight_kg", "weight in kg")
    band_in: float | None = _plausible("band_in", "bra band in inches")
    cup: float | None = Field(None, ge=0, le=11, description="cup as a number: aa=0, a=1, b=2, ...")
    bust_in: float | None = _plausible("bust_in", "bust in inches")
    waist_in: float | None = _plausible("waist_in", "waist in inches")
    hips_in: float | None = _plausible("hips_in", "hips in inches")
    age: float | None = _plausible("age", "age in years")
    body_type: str = Field("", max_length=100)


class SizeFitRequest(Body):
    customer_id: str = Field("", max_length=256, description="known customer (empty: a new one)")
    measurements: Measurements = Field(default_factory=Measurements)
    product_id: Id
    category: str = Field("", max_length=500, description="read for products the model has not seen")
    sizes: list[Annotated[float, Field(ge=-1000, le=1000)]] = Field(min_length=1, max_length=100)


class SizeOption(Body):
    size: float
    p_small: float
    p_fit: float
    p_large: float


class SizeFitResponse(Body):
    customer_id: str
    product_id: str
    recommended_size: float
    basis: Literal["history", "measurements", "population"]
    options: list[SizeOption]


# ----- feedback --------------------------------------------------------------------------------


class EventBase(Body):
    client_event_id: Id = Field(description="unique per event; a retried event with this id is stored once")
    user_id: Id
    item_id: Id
    timestamp: EpochSeconds | None = Field(None, description="when it happened (default: when received)")
    model_version: str | None = Field(None, max_length=64, description="the model that showed the item")
    slate_id: Id | None = Field(
        None,
        description="the slate (one answer, e.g. one recommendations request) the item was shown in: "
        "impressions with one slate_id, ordered by position, are what the user saw together",
    )


class InteractionEvent(EventBase):
    type: Literal["impression", "click", "add_to_cart", "purchase"]
    position: int | None = Field(None, ge=0, le=MAX_K, description="0-based rank the item was shown at")


class RatingEvent(EventBase):
    type: Literal["rating"]
    rating: float = Field(ge=0, le=10)


ReturnReason = Literal["too_small", "too_large", "not_as_described", "damaged", "changed_mind", "other"]


class ReturnEvent(EventBase):
    type: Literal["return"]
    reason: ReturnReason
    note: str = Field("", max_length=1000)


Event = Annotated[InteractionEvent | RatingEvent | ReturnEvent, Field(discriminator="type")]


class FeedbackBatch(Body):
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH)


class FeedbackAck(Body):
    stored: int = Field(description="events committed by this request")
    duplicates: int = Field(description="events whose client_event_id was already stored (or repeated)")


# ----- health and admin ------------------------------------------------------------------------


class ModelInfo(Body):
    model: str
    version: str
    source: str
    ranker: str | None = Field(description="the two-stage ranker's folder, when one is served")
    loaded_at: float


class Health(Body):
    status: Literal["ok"]


class Readiness(Body):
    status: Literal["ready", "not_ready"]
    model: ModelInfo | None
    sizefit: bool
    matcher: bool
    feedback_store: str


class ReloadRequest(Body):
    model_dir: str | None = Field(None, max_length=4096, description="serve this folder from now on")
    model_uri: str | None = Field(
        None, max_length=4096, description="serve this MLflow model URI from now on"
    )

    @model_validator(mode="after")
    def _at_most_one(self) -> ReloadRequest:
        if self.model_dir is not None and self.model_uri is not None:
            raise ValueError("give model_dir or model_uri, not both")
        return self


class ReloadResponse(Body):
    previous: ModelInfo
    current: ModelInfo
