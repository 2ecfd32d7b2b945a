"""Arms of an A/B test: what gives a slate to a batch of users.

A policy is anything with ``slates(users, k, exclude) -> (B, k)`` internal item indices (-1 where
fewer than k items are left), none of ``exclude[b]``:

- :class:`RecommenderPolicy`: a ``recsys.recommender.Recommender`` in this process;
- :class:`HTTPPolicy`: any server speaking the serving API (``POST /v1/recommendations``), users and
  items translated between the simulator's internal indices and the server's string ids;
- :class:`HTTPFeedback`: the observer that sends an arm's impressions and clicks back to such a
  server's feedback store (``POST /v1/feedback``);
- :class:`RetrainingPolicy`: a recommender refitted every R rounds on its training data plus its
  arm's clicks (a :class:`Learner`: ``update`` / ``refit`` / ``state`` / ``restore``).

For the same model ``RecommenderPolicy`` and ``HTTPPolicy`` give the same slates, so a simulated
test gives the same result in process and over HTTP (tested).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from recsys.recommender import Recommender


class Policy(Protocol):
    def slates(self, users: np.ndarray, k: int, exclude: Sequence[np.ndarray]) -> np.ndarray:
        """(B, k) internal item indices for (B,) internal user indices, none of ``exclude[b]``."""
        ...


class RecommenderPolicy:
    """A ``recsys.recommender.Recommender`` as an arm (exact or through its FAISS index).

    Args:
        batch: users scored per call; None scores an arm's whole round at once (fastest). A server
            scores one user per request, and a matrix product's rounding can depend on how many
            rows it has, so two items with nearly equal scores may swap places between the two;
            ``batch=1`` follows the server's arithmetic exactly (what the HTTP comparison uses).
    """

    def __init__(self, recommender, name: str | None = None, batch: int | None = None) -> None:
        if batch is not None and batch < 1:
            raise ValueError(f"batch: expected None or >= 1, got {batch}")
        self.recommender, self.name, self.batch = recommender, name or recommender.name, batch

    def slates(self, users: np.ndarray, k: int, exclude: Sequence[np.ndarray]) -> np.ndarray:
        step = len(users) if self.batch is None else self.batch
        parts = [
            self.recommender.recommend_batch(users[i : i + step], k, exclude=exclude[i : i + step])[0]
            for i in range(0, len(users), max(step, 1))
        ]
        return np.concatenate(parts) if parts else np.full((0, k), -1, dtype=np.int64)


class HTTPPolicy:
    """An arm served over HTTP: one ``POST /v1/recommendations`` per user and round, with the items
    the user has already seen in ``exclude_items``.

    Args:
        server: the server's base URL (``http://127.0.0.1:8000``; a keep-alive ``httpx.Client`` is
            made for it) or a ready ``httpx.Client`` (e.g. FastAPI's ``TestClient``) with its base URL.
        user_ids: (U,) the server's id of each internal user index of the simulation.
        item_ids: (I,) the server's id of each internal item index; an answer naming any other item
            is an error. ``add_items`` extends it when the catalog grows during a run.
        exclude_seen: ask the server to leave out the items the user had in training (the
            in-process ``RecommenderPolicy`` does).
        timeout: seconds per request (connect, read, write).
        retries: further attempts after a transport error (connection refused or dropped,
            timeout), with 0.1 s, 0.2 s, ... between them; a recommendation request has no side
            effect, so repeating it is safe. HTTP error statuses are not retried.
        concurrency: requests in flight at once (threads sharing the client's connection pool),
            for a server with several workers; the slates are the same as one at a time.
    """

    path = "/v1/recommendations"

    def __init__(
        self,
        server,
        user_ids: Sequence[object],
        item_ids: Sequence[object],
        name: str = "http",
        exclude_seen: bool = True,
        timeout: float = 10.0,
        retries: int = 3,
        concurrency: int = 1,
    ) -> None:
        import httpx

        if retries < 0:
            raise ValueError(f"retries: expected >= 0, got {retries}")
        if concurrency < 1:
            raise ValueError(f"concurrency: expected >= 1, got {concurrency}")
        self.name, self.exclude_seen, self.timeout, self.retries = name, exclude_seen, timeout, retries
        self.concurrency = concurrency
        self.base_url = server if isinstance(server, str) else None
        self.client = httpx.Client(base_url=server, timeout=timeout) if isinstance(server, str) else server
        self.user_ids = [str(u) for u in user_ids]
        self.item_ids: list[str] = []
        self.item_index: dict[str, int] = {}
        self.add_items(item_ids)

    def add_items(self, item_ids: Sequence[object]) -> None:
        """Items added to the catalog: they take the next internal indices."""
        for item in map(str, item_ids):
            if item in self.item_index:
                raise ValueError(f"item_ids: {item!r} is listed twice")
            self.item_index[item] = len(self.item_ids)
            self.item_ids.append(item)

    def slates(self, users: np.ndarray, k: int, exclude: Sequence[np.ndarray]) -> np.ndarray:
        bodies = [
            {
                "user_id": self.user_ids[user],
                "k": k,
                "exclude_items": [self.item_ids[i] for i in exclude[b]],
                "exclude_seen": self.exclude_seen,
            }
            for b, user in enumerate(users)
        ]
        if self.concurrency > 1 and len(bodies) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.concurrency) as pool:
                answers = list(pool.map(self._post, bodies))  # in the users' order
        else:
            answers = [self._post(body) for body in bodies]
        slates = np.full((len(users), k), -1, dtype=np.int64)
        for b, (body, answer) in enumerate(zip(bodies, answers, strict=True)):
            items = answer["items"][:k]
            unknown = [i for i in items if i not in self.item_index]
            if unknown:
                raise ValueError(
                    f"{self.path} answered items not in item_ids for user {body['user_id']!r}: {unknown[:5]}"
                    " (does the server serve the same catalog as the simulation?)"
                )
            slates[b, : len(items)] = [self.item_index[i] for i in items]
        return slates

    def _post(self, body: dict) -> dict:
        import httpx

        for attempt in range(self.retries + 1):
            try:
                response = self.client.post(self.path, json=body)
                break
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
                time.sleep(0.1 * 2**attempt)
        if response.status_code != 200:
            status = f"HTTP {response.status_code} {response.text[:500]}"
            raise RuntimeError(f"POST {self.path} for user {body['user_id']!r}: {status}")
        return response.json()

    def close(self) -> None:
        """Close the connection pool of a client this policy made (a given client stays open)."""
        if self.base_url is not None:
            self.client.close()

    # Sent to Ray workers as its settings: each worker opens its own connections.
    def __getstate__(self) -> dict:
        if self.base_url is None:
            raise TypeError("an HTTPPolicy made on a given client cannot be copied: give it the base URL")
        return {key: value for key, value in self.__dict__.items() if key != "client"}

    def __setstate__(self, state: dict) -> None:
        import httpx

        self.__dict__.update(state)
        self.client = httpx.Client(base_url=self.base_url, timeout=self.timeout)


class HTTPFeedback:
    """An observer that sends one arm's feedback to a server speaking the serving API
    (``POST /v1/feedback``): an ``impression`` event per shown item (with its 0-based position) and a
    ``click`` event per clicked one, so that the platform's feedback store holds what the simulated
    users did, as it would for real users.

    Event ids are ``{experiment}:{round}:{user}:{position}:{type}``: a resumed run that replays a
    round sends the same ids, and the store keeps each event once. Both events carry the slate id
    ``{experiment}:{round}:{user}`` (one slate per user and round), so the store can tell which items
    were shown together (``simulators.users.feedback_exposures``).

    Args:
        server: base URL or ``httpx.Client``, as for :class:`HTTPPolicy`.
        user_ids, item_ids: the server's ids of the simulation's internal users and items.
        arm: the arm whose rounds are sent (one observer per arm served by this server).
        experiment: a label that keeps this run's event ids apart from other runs'.
        batch_size: events per request (the server's ``ALIGNREC_MAX_BATCH_SIZE``, 1,000 by default).
    """

    path = "/v1/feedback"

    def __init__(
        self,
        server,
        user_ids: Sequence[object],
        item_ids: Sequence[object],
        arm: int,
        experiment: str,
        batch_size: int = 1000,
        timeout: float = 30.0,
    ) -> None:
        import httpx

        self.client = httpx.Client(base_url=server, timeout=timeout) if isinstance(server, str) else server
        self.owned = isinstance(server, str)
        self.user_ids, self.item_ids = [str(u) for u in user_ids], [str(i) for i in item_ids]
        self.arm, self.experiment, self.batch_size = arm, experiment, batch_size

    def on_round(self, t: int, arm: int, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        if arm != self.arm:
            return
        events = []
        for b, user in enumerate(users):
            for position in np.flatnonzero(slates[b] >= 0):
                slate = f"{self.experiment}:{t}:{self.user_ids[user]}"
                common = {
                    "user_id": self.user_ids[user],
                    "item_id": self.item_ids[slates[b, position]],
                    "slate_id": slate,
                }
                key = f"{slate}:{position}"
                shown = {
                    "client_event_id": f"{key}:impression",
                    "type": "impression",
                    "position": int(position),
                }
                events.append({**shown, **common})
                if clicks[b, position]:
                    events.append({"client_event_id": f"{key}:click", "type": "click", **common})
        for start in range(0, len(events), self.batch_size):
            response = self.client.post(self.path, json={"events": events[start : start + self.batch_size]})
            if response.status_code != 200:
                status = f"HTTP {response.status_code} {response.text[:500]}"
                raise RuntimeError(f"POST {self.path} (round {t}, arm {arm}): {status}")

    def close(self) -> None:
        if self.owned:
            self.client.close()


@runtime_checkable
class Learner(Protocol):
    """A policy that learns from its arm's feedback (``run_abtest(retrain_every=R)``).

    ``update`` only records; the slates change when ``refit`` runs (a run on Ray sends a learner to
    its workers again after each refit, not after each update)."""

    def slates(self, users: np.ndarray, k: int, exclude: Sequence[np.ndarray]) -> np.ndarray: ...

    def update(self, users: np.ndarray, items: np.ndarray, clicked: np.ndarray) -> None:
        """(N,) users, (N,) items shown to them, (N,) bool clicked: one round of the arm's feedback."""
        ...

    def refit(self) -> None:
        """Retrain on everything received so far (called every R rounds)."""
        ...

    def state(self) -> dict[str, np.ndarray]:
        """What ``restore`` needs to continue exactly where this policy is (saved with the run)."""
        ...

    def restore(self, state: dict[str, np.ndarray]) -> None: ...


Trainer = Callable[[sp.csr_matrix], "Recommender"]
"""(U, I) binary interactions -> a fitted ``Recommender`` over them."""


class RetrainingPolicy:
    """A ``Recommender`` refitted every R rounds on its training interactions plus its arm's clicks.

    ``train(matrix)`` fits a recommender on a (U, I) binary matrix: ``base`` (what the policy was
    trained on before the test) with every (user, item) its arm's users clicked set to 1; shown but
    unclicked items are kept in the feedback log but not used by these trainers. Each refit is a
    function of (base, feedback so far) only — embedding models are warm-started from the same
    starting parameters each time, not from the previous refit — so a resumed run refits once on
    the saved feedback and continues exactly (``state``/``restore``).

    Args:
        train: e.g. :func:`popularity_trainer`, :func:`itemknn_trainer`, :func:`embedding_trainer`.
        base: (U, I) the interactions the starting policy was trained on.
        name: the arm's label.
    """

    def __init__(self, train: Trainer, base: sp.csr_matrix, name: str) -> None:
        self.train, self.name = train, name
        self.base = sp.csr_matrix(base, dtype=np.float32)
        self.base.data[:] = 1.0
        self.users: list[np.ndarray] = []
        self.items: list[np.ndarray] = []
        self.clicked: list[np.ndarray] = []
        self.fitted_events = 0  # feedback events the current recommender was fitted on
        self.recommender = train(self.base)

    def slates(self, users: np.ndarray, k: int, exclude: Sequence[np.ndarray]) -> np.ndarray:
        items, _ = self.recommender.recommend_batch(users, k, exclude=exclude)
        return items

    def update(self, users: np.ndarray, items: np.ndarray, clicked: np.ndarray) -> None:
        self.users.append(np.asarray(users, dtype=np.int64))
        self.items.append(np.asarray(items, dtype=np.int64))
        self.clicked.append(np.asarray(clicked, dtype=bool))

    def feedback(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N,) users, items and clicked flags of every event received, in order."""
        if not self.users:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=bool)
        return np.concatenate(self.users), np.concatenate(self.items), np.concatenate(self.clicked)

    def refit(self) -> None:
        users, items, clicked = self.feedback()
        self._fit(users[clicked], items[clicked])
        self.fitted_events = len(users)

    def _fit(self, users: np.ndarray, items: np.ndarray) -> None:
        width = max(self.base.shape[1], int(items.max()) + 1 if len(items) else 0)
        base = sp.csr_matrix(self.base, shape=(self.base.shape[0], width))  # items added mid-run
        clicks = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=base.shape)
        matrix = (base + clicks).tocsr()
        matrix.data[:] = 1.0
        self.recommender = self.train(matrix)

    def state(self) -> dict[str, np.ndarray]:
        users, items, clicked = self.feedback()
        return {
            "users": users,
            "items": items,
            "clicked": clicked,
            "fitted_events": np.array(self.fitted_events),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.users, self.items = [state["users"].astype(np.int64)], [state["items"].astype(np.int64)]
        self.clicked = [state["clicked"].astype(bool)]
        self.fitted_events = int(state["fitted_events"])
        if self.fitted_events:
            fitted = slice(0, self.fitted_events)
            chosen = self.clicked[0][fitted]
            self._fit(self.users[0][fitted][chosen], self.items[0][fitted][chosen])


def popularity_trainer(user_ids: Sequence[object], item_ids: Sequence[object]) -> Trainer:
    """Refits ``MostPopular`` (deterministic)."""

    def train(matrix: sp.csr_matrix) -> Recommender:
        from recsys.artifact import interactions_from_csr
        from recsys.models.popularity import MostPopular
        from recsys.recommender import Recommender

        return Recommender(
            MostPopular(interactions_from_csr(matrix)), matrix, *ids(matrix, user_ids, item_ids)
        )

    return train


def itemknn_trainer(user_ids: Sequence[object], item_ids: Sequence[object], k: int = 100) -> Trainer:
    """Refits ``ItemKNN`` with ``k`` neighbours (deterministic)."""

    def train(matrix: sp.csr_matrix) -> Recommender:
        from recsys.artifact import interactions_from_csr
        from recsys.models.itemknn import ItemKNN
        from recsys.recommender import Recommender

        model = ItemKNN(interactions_from_csr(matrix), k=k)
        return Recommender(model, matrix, *ids(matrix, user_ids, item_ids))

    return train


def embedding_trainer(
    make_model: Callable[[sp.csr_matrix], object],
    start: dict,
    user_ids: Sequence[object],
    item_ids: Sequence[object],
    epochs: int = 3,
    lr: float = 5e-3,
    seed: int = 2026,
    **fit_options: object,
) -> Trainer:
    """A short warm-started ``recsys.train.fit`` of a torch embedding model (BPR, LightGCN): the
    model ``make_model(matrix)`` builds (LightGCN needs the matrix for its graph) takes the
    parameters ``start`` (a ``state_dict`` of the policy before the test), then trains ``epochs``
    epochs with ``seed``, without early stopping. Deterministic on one thread."""

    def train(matrix: sp.csr_matrix) -> Recommender:
        import torch

        from recsys.artifact import interactions_from_csr
        from recsys.recommender import Recommender
        from recsys.train import fit

        known = ids(matrix, user_ids, item_ids)
        model = make_model(matrix)
        model.load_state_dict(start)  # a catalog grown during the run cannot take these parameters
        torch.manual_seed(seed)
        fit(
            model,
            interactions_from_csr(matrix),
            epochs=epochs,
            lr=lr,
            seed=seed,
            progress=False,
            **fit_options,
        )
        return Recommender(model, matrix, *known)

    return train


def ids(matrix: sp.csr_matrix, user_ids: Sequence[object], item_ids: Sequence[object]) -> tuple:
    """The id arrays for a refitted recommender, refusing a matrix wider than the known items (a
    trainer given lists sees ids appended to them when items are added during the run)."""
    if matrix.shape != (len(user_ids), len(item_ids)):
        raise ValueError(
            f"refit on {matrix.shape} interactions but the trainer knows {len(user_ids)} users x "
            f"{len(item_ids)} items: items added during the run need their ids in item_ids"
        )
    return np.asarray(user_ids), np.asarray(item_ids)
