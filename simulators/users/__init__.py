"""User simulators: exposures, interchangeable simulators, and their evaluation against real choices."""

from simulators.users.evaluate import evaluate_simulator
from simulators.users.exposures import Exposure, HeldOut, heldout_split, popularity_exposures
from simulators.users.simulators import PopularityUser, RandomUser, RecommenderUser, UserSimulator

__all__ = [
    "Exposure",
    "HeldOut",
    "PopularityUser",
    "RandomUser",
    "RecommenderUser",
    "UserSimulator",
    "evaluate_simulator",
    "heldout_split",
    "popularity_exposures",
]
