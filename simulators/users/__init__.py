"""User simulators: exposures, interchangeable simulators, and their evaluation against real choices."""

from simulators.users.evaluate import evaluate_simulator
from simulators.users.exposures import (
    Exposure,
    HeldOut,
    ItemMeta,
    hard_exposures,
    heldout_split,
    popularity_exposures,
)
from simulators.users.simulators import (
    GenreMedoidUser,
    NewestUser,
    PopularityUser,
    RandomUser,
    RecommenderUser,
    UserSimulator,
)

__all__ = [
    "Exposure",
    "GenreMedoidUser",
    "HeldOut",
    "ItemMeta",
    "NewestUser",
    "PopularityUser",
    "RandomUser",
    "RecommenderUser",
    "UserSimulator",
    "evaluate_simulator",
    "hard_exposures",
    "heldout_split",
    "popularity_exposures",
]
