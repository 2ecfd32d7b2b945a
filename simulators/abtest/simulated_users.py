"""Any user simulator of ``simulators.users`` (the LM, its distilled fast version, a recommender's
scores, random) as the users of an A/B test.

:class:`SimulatorClickModel` is a click model for ``run_abtest``: each round, a user's slate becomes
an :class:`~simulators.users.exposures.Exposure` — the user's recent history (their last events of
the log, then what they clicked during the run, newest last) and the slate's items as the options —
and the simulator's choice probabilities p over the slate set the clicks: slot i is clicked with
probability ``min(1, engagement * k * p_i)``. A simulator that has no preference (p = 1/k) clicks
every slot with probability ``engagement``, the base click rate; one that is sure of its choice puts
``engagement * k`` (capped at 1) on that item. The harness hands it every round's clicks
(``remember``), which it appends to the users' histories, so the simulated users remember the run —
in one process and in each Ray shard alike (each user's memory is their own).

Simulators see items by their original ids (``item_ids`` maps the harness's internal indices). A
slot the policy left empty (-1) gets probability 0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from simulators.users.exposures import Exposure
from simulators.users.simulators import UserSimulator


class SimulatorClickModel:
    """``run_abtest``'s click model driven by a user simulator.

    Args:
        simulator: anything with ``choice_probabilities(exposures) -> (B, n)``.
        user_ids: (U,) original user id of each internal user index.
        item_ids: (I,) original item id of each internal item index.
        histories: internal user index -> (item id, rating) pairs from the log, oldest first.
        engagement: click probability of a slot when the simulator is indifferent.
        history: how many recent events an exposure carries.
        click_rating: the rating a clicked item enters the history with.
    """

    star_levels = None  # the simulators here give choices, not star ratings

    def __init__(
        self,
        simulator: UserSimulator,
        user_ids: Sequence[object],
        item_ids: Sequence[object],
        histories: Mapping[int, Sequence[tuple[str, float]]],
        engagement: float = 0.05,
        history: int = 10,
        click_rating: float = 5.0,
    ) -> None:
        if not 0 < engagement <= 1:
            raise ValueError(f"engagement: expected a probability in (0, 1], got {engagement}")
        if history < 0:
            raise ValueError(f"history: expected >= 0 events, got {history}")
        self.simulator, self.engagement, self.history, self.click_rating = (
            simulator,
            engagement,
            history,
            click_rating,
        )
        self.user_ids = [str(u) for u in user_ids]
        self.item_ids = [str(i) for i in item_ids]
        self.histories = {int(u): list(events) for u, events in histories.items()}
        self.decisions = 0  # exposures scored so far
        self.seconds = 0.0  # time spent in the simulator

    def exposure(self, user: int, slate: np.ndarray) -> Exposure:
        events = self.histories.get(int(user), [])
        recent = tuple(events[-self.history :]) if self.history else ()
        options = tuple(self.item_ids[i] for i in slate)
        return Exposure(self.user_ids[int(user)], recent, options, target=0)

    def click_probabilities(self, users: np.ndarray, slates: np.ndarray) -> np.ndarray:
        """(B, k) click probabilities of the slates' slots."""
        out = np.zeros(slates.shape, dtype=np.float64)
        k = slates.shape[1]
        filled = slates >= 0
        for width in np.unique(filled.sum(1)):  # simulators take lists of one length at a time
            rows = np.flatnonzero(filled.sum(1) == width)
            if width == 0:
                continue
            exposures = [self.exposure(users[b], slates[b][filled[b]]) for b in rows]
            start = time.perf_counter()
            choice = np.asarray(self.simulator.choice_probabilities(exposures), dtype=np.float64)
            self.seconds += time.perf_counter() - start
            self.decisions += len(rows)
            for r, b in enumerate(rows):
                out[b, filled[b]] = np.minimum(1.0, self.engagement * k * choice[r])
        return out

    def remember(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """The users remember what they clicked (called by the harness after each arm's round)."""
        for b, user in enumerate(users):
            for i in slates[b][clicks[b] & (slates[b] >= 0)]:
                self.histories.setdefault(int(user), []).append((self.item_ids[i], self.click_rating))

    @property
    def decisions_per_second(self) -> float:
        return self.decisions / self.seconds if self.seconds else float("nan")
