"""Arms of an A/B test: what gives a slate to a batch of users.

A policy is anything with ``slates(users, k, exclude) -> (B, k)`` internal item indices (-1 where
fewer than k items are left), none of ``exclude[b]``:

- :class:`RecommenderPolicy`: a ``recsys.recommender.Recommender`` in this process;
- :class:`HTTPPolicy`: any server speaking the serving API (``POST /v1/recommendations``), users and
  items translated between the simulator's internal indices and the server's string ids.

For the same model the two give the same slates, so a simulated test gives the same result in
process and over HTTP (tested).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Policy(Protocol):
    def slates(self, users: np.ndarray, k: int, exclude: Sequence[np.ndarray]) -> np.ndarray:
        """(B, k) internal item indices for (B,) internal user indices, none of ``exclude[b]``."""
        ...


class RecommenderPolicy:
    """A ``recsys.recommender.Recommender`` as an arm (exact or through its FAISS index)."""

    def __init__(self, recommender, name: str | None = None) -> None:
        self.recommender, self.name = recommender, name or recommender.name

    def slates(self, users: np.ndarray, k: int, exclude: Sequence[np.ndarray]) -> np.ndarray:
        items, _ = self.recommender.recommend_batch(users, k, exclude=exclude)
        return items


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
    ) -> None:
        import httpx

        if retries < 0:
            raise ValueError(f"retries: expected >= 0, got {retries}")
        self.name, self.exclude_seen, self.timeout, self.retries = name, exclude_seen, timeout, retries
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
        slates = np.full((len(users), k), -1, dtype=np.int64)
        for b, user in enumerate(users):
            body = {
                "user_id": self.user_ids[user],
                "k": k,
                "exclude_items": [self.item_ids[i] for i in exclude[b]],
                "exclude_seen": self.exclude_seen,
            }
            items = self._post(body)["items"][:k]
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
