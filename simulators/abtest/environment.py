"""A long-horizon simulated A/B test: users split into arms by a hash of their id, each round every
active user gets a slate from their arm's policy and clicks (or not) under a click model.

- **Arms**: ``arm_of(user, arms, salt)`` hashes the user id (sha256 of salt + id), so a user stays in
  one arm for the whole test, whichever process or worker simulates them; ``arms`` may list one
  policy twice (an A/A test) or more than two policies.
- **Policies** (``simulators.abtest.policies``): anything with ``slates(users, k, exclude)``
  returning (B, k) internal item indices — a ``Recommender`` in process (``RecommenderPolicy``,
  re-exported here) or any server speaking the serving API (``HTTPPolicy``).
- **Click model** (the fast user simulator): a user clicks each slate item independently with
  ``sigmoid((s_ui - bias) / temperature)`` where s_ui is a "world" model's score (a recommender
  trained on all the data, or planted factors). Randomness is one seeded generator per (user,
  round), so one process and many workers draw the same clicks for the same user.
- **Retention**: a user who goes ``patience`` rounds in a row without a click leaves for good.
- **Observers**: objects with ``on_round(t, arm, users, slates, clicks)``, called after each arm's
  round with that arm's (B,) internal users, (B, k) slates (-1: empty slot) and (B, k) boolean
  clicks — for creators, logs or live metrics. An observer (or a policy) may add items to the
  catalog during a run: item indices past ``num_items`` are counted as they appear (the exposure
  arrays grow).
- **Retraining** (``retrain_every=R``): learning arms (``policies.RetrainingPolicy``) get their
  arm's feedback after each round and refit every R rounds.
- **Resumable** (``state_path=...``): the loop state is saved after every round
  (``simulators.abtest.state``); rerunning continues where a stopped run was.
- **Per-round metrics** beyond clicks: the slates' intra-list diversity over ``item_features`` and
  the star ratings of clicked items (``ClickModel.fit_ratings``).
- **Ray** (``run_abtest_on_ray``): users sharded over workers, identical to one process; observers,
  retraining and saved state are refused there (they need every user's round in one place).

Per user and round the log keeps impressions and clicks; ``user_totals`` folds them into the
per-user (clicks, impressions) pairs that ``simulators.abtest.stats`` compares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from simulators.abtest.policies import Learner, Policy
from simulators.abtest.policies import RecommenderPolicy as RecommenderPolicy  # its old home
from simulators.abtest.state import LoopState, digest, load_state, save_state


class Observer(Protocol):
    def on_round(self, t: int, arm: int, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """After arm ``arm``'s round ``t``: (B,) internal users, (B, k) slates, (B, k) bool clicks."""
        ...


class ClickModel:
    """Independent clicks with probability sigmoid((score - bias) / temperature) per shown item.

    Args:
        scores: (U, I) world scores (higher = more liked), e.g. a recommender trained on all data.
        bias, temperature: set the base click rate and how sharply it follows the scores.
    """

    def __init__(self, scores: np.ndarray, bias: float, temperature: float) -> None:
        self.scores, self.bias, self.temperature = np.asarray(scores, dtype=np.float64), bias, temperature
        self.star_levels: np.ndarray | None = None  # (L,) rating values, ascending (see fit_ratings)
        self.star_cuts: np.ndarray | None = None  # (L - 1,) world-score thresholds between them

    def fit_ratings(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> ClickModel:
        """Give the world star ratings: a (user, item) gets the rating level whose share of the
        given rated pairs matches the rank of its world score among theirs — cut points at the
        world-score quantiles of ``(users, items)`` (e.g. the training events) at the cumulative
        shares of each rating, so the given pairs, rated by the world, have the given ratings'
        distribution. Deterministic: a clicked item's rating follows from its score."""
        ratings = np.asarray(ratings, dtype=np.float64)
        if not (len(users) == len(items) == len(ratings) > 0):
            lengths = f"{len(users)}, {len(items)}, {len(ratings)}"
            raise ValueError(f"users, items, ratings: expected equal non-zero lengths, got {lengths}")
        levels, counts = np.unique(ratings, return_counts=True)
        shares = np.cumsum(counts)[:-1] / len(ratings)
        self.star_levels = levels
        self.star_cuts = np.quantile(self.scores[np.asarray(users), np.asarray(items)], shares)
        return self

    def ratings(self, users: np.ndarray, slates: np.ndarray) -> np.ndarray:
        """(B, k) star ratings the (B,) users would give their (B, k) slates' items (nan at -1)."""
        if self.star_levels is None:
            raise ValueError("this click model has no ratings: call fit_ratings first")
        s = self.scores[users[:, None], np.maximum(slates, 0)]  # (B, k)
        stars = self.star_levels[np.searchsorted(self.star_cuts, s, side="right")]
        return np.where(slates >= 0, stars, np.nan)

    def click_probabilities(self, users: np.ndarray, slates: np.ndarray) -> np.ndarray:
        """(B, k) click probabilities; slots with item -1 (nothing left to show) get 0."""
        s = self.scores[users[:, None], np.maximum(slates, 0)]  # (B, k)
        p = 1.0 / (1.0 + np.exp(-(s - self.bias) / self.temperature))
        return np.where(slates >= 0, p, 0.0)

    def add_items(self, scores: np.ndarray) -> None:
        """World scores (U, n) of n items added to the catalog; they get the next item indices."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != self.scores.shape[0]:
            raise ValueError(f"scores: expected shape ({self.scores.shape[0]}, n), got {scores.shape}")
        self.scores = np.concatenate([self.scores, scores], axis=1)

    @classmethod
    def calibrated(
        cls, scores: np.ndarray, base_rate: float = 0.1, temperature: float | None = None
    ) -> ClickModel:
        """Bias chosen so that a uniformly random item is clicked with ``base_rate`` on average
        (approximately: the median score's probability); temperature defaults to the scores' std."""
        scores = np.asarray(scores, dtype=np.float64)
        temperature = float(scores.std()) if temperature is None else temperature
        bias = float(np.median(scores) - temperature * np.log(base_rate / (1 - base_rate)))
        return cls(scores, bias, temperature)


def itemknn_world(split, k: int = 100, base_rate: float = 0.05) -> ClickModel:
    """The click model the CLI and the benchmark use: an ItemKNN fitted on every event of a split
    (train, valid and test together) scores each (user, item), calibrated to ``base_rate``."""
    import torch

    from recsys.artifact import interactions_from_csr
    from recsys.models.itemknn import ItemKNN

    everything = (split.train.to_csr() + split.valid.to_csr() + split.test.to_csr()).tocsr()
    everything.data[:] = 1.0
    with torch.no_grad():
        scores = (
            ItemKNN(interactions_from_csr(everything), k=k).scores(torch.arange(everything.shape[0])).numpy()
        )
    return ClickModel.calibrated(scores, base_rate=base_rate)


def arm_of(user_ids: Sequence[object], arms: int, salt: str) -> np.ndarray:
    """(B,) arm index of each user: sha256(salt:user) mod arms, stable across processes and runs."""
    digests = [hashlib.sha256(f"{salt}:{u}".encode()).digest() for u in user_ids]
    return np.array([int.from_bytes(d[:8], "little") % arms for d in digests], dtype=np.int64)


def user_rng(seed: int, user_key: int, round_: int) -> np.random.Generator:
    """The generator of one user in one round (the same in any process)."""
    return np.random.default_rng([seed, user_key, round_])


@dataclass
class ABResult:
    """Per-(round, user) impressions and clicks, the users' arms and when they left."""

    arm_names: list[str]
    users: np.ndarray  # (U,) internal user indices simulated
    arms: np.ndarray  # (U,) arm index per user
    impressions: np.ndarray  # (T, U) items shown per round (0 once the user left)
    clicks: np.ndarray  # (T, U)
    left_at: np.ndarray  # (U,) round the user left, -1 if still active
    exposure: list[np.ndarray] = field(default_factory=list)  # per arm, (I,) times each item was shown
    diversity: np.ndarray | None = None  # (T, U) intra-list diversity of the user's slate; nan: none
    rating_sum: np.ndarray | None = None  # (T, U) sum of the star ratings of the user's clicked items

    def __post_init__(self) -> None:
        self.exposure = padded(self.exposure)

    def diversity_per_round(self) -> np.ndarray:
        """(T, A) mean intra-list diversity of the round's slates per arm (nan: no slate with two
        items); needs a run given ``item_features``."""
        if self.diversity is None:
            raise ValueError("this run recorded no diversity: give run_abtest item_features")
        rounds = self.diversity.shape[0]
        out = np.full((rounds, len(self.arm_names)), np.nan)
        for a in range(len(self.arm_names)):
            values = self.diversity[:, self.arms == a]
            counted = (~np.isnan(values)).sum(1)
            out[counted > 0, a] = np.nansum(values, 1)[counted > 0] / counted[counted > 0]
        return out

    def rating_per_round(self) -> np.ndarray:
        """(T, A) mean star rating of the round's clicked items per arm (nan: no click); needs a
        click model with ratings (``ClickModel.fit_ratings``)."""
        if self.rating_sum is None:
            raise ValueError("this run recorded no ratings: give run_abtest a ClickModel with fit_ratings")
        out = np.full((self.rating_sum.shape[0], len(self.arm_names)), np.nan)
        for a in range(len(self.arm_names)):
            stars = self.rating_sum[:, self.arms == a].sum(1)
            clicked = self.clicks[:, self.arms == a].sum(1)
            out[clicked > 0, a] = stars[clicked > 0] / clicked[clicked > 0]
        return out

    def user_rating_totals(self, arm: int, rounds: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-user (sum of ratings, clicks) over the first ``rounds`` rounds for the users of one arm
        who clicked at least once: the pairs a user-level mean-rating comparison needs."""
        if self.rating_sum is None:
            raise ValueError("this run recorded no ratings: give run_abtest a ClickModel with fit_ratings")
        last = self.clicks.shape[0] if rounds is None else rounds
        members = self.arms == arm
        stars = self.rating_sum[:last, members].sum(0).astype(np.float64)
        clicked = self.clicks[:last, members].sum(0).astype(np.float64)
        keep = clicked > 0
        return stars[keep], clicked[keep]

    def user_totals(self, arm: int, rounds: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-user (clicks, impressions) over the first ``rounds`` rounds for the users of one arm,
        users with no impression dropped."""
        last = self.impressions.shape[0] if rounds is None else rounds
        members = self.arms == arm
        clicks = self.clicks[:last, members].sum(0)
        shown = self.impressions[:last, members].sum(0)
        keep = shown > 0
        return clicks[keep].astype(np.float64), shown[keep].astype(np.float64)


def padded(counts: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Exposure counts of catalogs that grew to different sizes, zero-padded to the largest."""
    size = max((len(c) for c in counts), default=0)
    return [np.pad(np.asarray(c, dtype=np.int64), (0, size - len(c))) for c in counts]


def count_exposure(exposure: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """``exposure`` with one more showing of each of ``shown`` (item indices, each at most once),
    grown when an item index lies past its end (items added during the run)."""
    if len(shown) and shown.max() >= len(exposure):
        exposure = np.pad(exposure, (0, int(shown.max()) + 1 - len(exposure)))
    exposure[shown] += 1
    return exposure


def unit_rows(features: np.ndarray) -> np.ndarray:
    """(I, d) rows scaled to unit length (all-zero rows stay zero)."""
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)


def intra_list_diversity(unit: np.ndarray, slates: np.ndarray) -> np.ndarray:
    """(B,) mean pairwise cosine distance 1 - cos(f_i, f_j) between the items of each slate (nan for
    fewer than two items); ``unit`` (I, d) unit-length feature rows, ``slates`` (B, k), -1 empty.
    An item whose features are all zero counts as unlike every other (distance 1)."""
    filled = slates >= 0  # (B, k)
    if filled.any() and slates.max() >= len(unit):
        raise ValueError(
            f"item_features: {len(unit)} rows, but item {int(slates.max())} was shown (items added "
            "during the run need feature rows)"
        )
    vectors = unit[np.maximum(slates, 0)] * filled[..., None]  # (B, k, d)
    n = filled.sum(1)  # (B,)
    total = vectors.sum(1)  # (B, d)
    self_similarity = (vectors**2).sum((1, 2))  # (B,) 1 per non-zero item
    pairs = n * (n - 1)
    similarity = ((total**2).sum(1) - self_similarity) / np.maximum(pairs, 1)  # mean over ordered pairs
    return np.where(n >= 2, 1.0 - similarity, np.nan)


class Simulation:
    """The users' side of a run: each user's arm, generator key, seen items and dry spell, and the
    per-(round, user) logs; :meth:`play` simulates one arm's round. One per process, or one per Ray
    shard (a user's outcome depends only on their id, the seed, the round and their slates).

    A click model may have memory: if it has ``remember(users, slates, clicks)``, each round's
    users, slates and clicks go to it right after the draw. Memory must be per user (a user's
    later clicks depend only on their own past), so that a Ray shard's copy of the click model,
    which sees only its users, gives the one-process result.

    Args:
        state: a saved ``LoopState`` to continue from; a fresh one by default.
    """

    def __init__(
        self,
        click_model: ClickModel,
        users: np.ndarray,
        user_ids: Sequence[object],
        arms: int,
        salt: str,
        num_items: int,
        rounds: int,
        k: int,
        patience: int,
        seed: int,
        item_features: np.ndarray | None = None,
        state: LoopState | None = None,
    ) -> None:
        self.click_model, self.k, self.patience, self.seed = click_model, k, patience, seed
        self.users = np.asarray(users, dtype=np.int64)
        self.arms = arm_of(user_ids, arms, salt)
        self.keys = np.array(
            [int.from_bytes(hashlib.sha256(str(u).encode()).digest()[:8], "little") for u in user_ids]
        )
        self.state = state or LoopState.start(rounds, len(self.users), num_items, arms)
        self.unit = None if item_features is None else unit_rows(item_features)
        self.rated = click_model.star_levels is not None

    def play(self, t: int, a: int, policy: Policy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Round ``t`` of arm ``a``'s active users: (B,) internal users, (B, k) slates, (B, k) clicks."""
        state, logs = self.state, self.state.logs
        members = np.flatnonzero((self.arms == a) & (state.left_at < 0))
        if len(members) == 0:
            return self.users[members], np.full((0, self.k), -1, dtype=np.int64), np.zeros((0, self.k), bool)
        users = self.users[members]
        slates = policy.slates(users, self.k, [np.asarray(state.seen[m], dtype=np.int64) for m in members])
        probabilities = self.click_model.click_probabilities(users, slates)  # (B, k)
        clicked = np.zeros(slates.shape, dtype=bool)  # (B, k)
        if self.unit is not None:
            logs["diversity"][t, members] = intra_list_diversity(self.unit, slates)
        for row, m in enumerate(members):
            shown = slates[row][slates[row] >= 0]
            clicked[row] = user_rng(self.seed, int(self.keys[m]), t).random(self.k) < probabilities[row]
            logs["impressions"][t, m] = len(shown)
            logs["clicks"][t, m] = int(clicked[row].sum())
            state.seen[m].extend(shown.tolist())
            state.exposure[a] = count_exposure(state.exposure[a], shown)
            state.dry[m] = 0 if clicked[row].any() else state.dry[m] + 1
            if state.dry[m] >= self.patience:
                state.left_at[m] = t
        if self.rated:
            stars = self.click_model.ratings(users, slates)  # (B, k)
            logs["rating_sum"][t, members] = np.where(clicked, stars, 0.0).sum(1)
        remember = getattr(self.click_model, "remember", None)
        if remember is not None:  # users with memory (e.g. a user simulator) take in their own round
            remember(users, slates, clicked)
        return users, slates, clicked

    def result(self, arm_names: Sequence[str]) -> ABResult:
        logs = self.state.logs
        return ABResult(
            list(arm_names),
            self.users,
            self.arms,
            logs["impressions"],
            logs["clicks"],
            self.state.left_at,
            self.state.exposure,
            diversity=None if self.unit is None else logs["diversity"],
            rating_sum=logs["rating_sum"] if self.rated else None,
        )


def feed(policy: Policy, users: np.ndarray, slates: np.ndarray, clicked: np.ndarray) -> None:
    """Give a learning policy its arm's round: one (user, item, clicked) row per shown item."""
    filled = slates >= 0  # (B, k)
    rows = np.broadcast_to(users[:, None], slates.shape)
    policy.update(rows[filled], slates[filled], clicked[filled])


def refit_due(t: int, rounds: int, retrain_every: int | None) -> bool:
    """Whether learners refit after round ``t`` (0-based): after rounds R, 2R, ..., not the last."""
    return retrain_every is not None and (t + 1) % retrain_every == 0 and t + 1 < rounds


def run_abtest(
    policies: Sequence[Policy],
    arm_names: Sequence[str],
    click_model: ClickModel,
    users: np.ndarray,
    user_ids: Sequence[object],
    num_items: int,
    rounds: int = 50,
    k: int = 10,
    patience: int = 5,
    seed: int = 2026,
    salt: str = "ab",
    progress: bool = False,
    observers: Sequence[Observer] = (),
    retrain_every: int | None = None,
    state_path: str | Path | None = None,
    item_features: np.ndarray | None = None,
) -> ABResult:
    """Simulate ``rounds`` rounds for ``users`` (internal indices; ``user_ids`` their original ids,
    used for hashing into arms). Users never see an item twice (clicked or not). ``num_items`` is
    the catalog size at the start; ``observers`` see every arm's round as it ends.

    With ``retrain_every=R`` each arm whose policy is a ``Learner`` (e.g. ``RetrainingPolicy``; one
    object per arm) learns: after each of its rounds it gets its arm's feedback (``update``: the
    users, the items shown and whether each was clicked, one row per shown item, in user order), and
    after rounds R, 2R, ... (not after the last) it refits. Other arms stay as they are (a static
    control against a retrained treatment).

    With ``state_path`` the loop state (see ``simulators.abtest.state``) is written atomically after
    every round, and a run given a path that holds a state continues after its last saved round
    (with the learners restored) — the result is the uninterrupted run's; a state written with
    other arguments is refused, naming them. A finished run's state stays: rerunning returns its
    result without simulating.

    Per (round, user) the result also records the slate's intra-list diversity (mean pairwise
    cosine distance between the rows of ``item_features``, (I, d), e.g. genres; only when given)
    and the sum of the star ratings of the clicked items (only when the click model has ratings,
    ``ClickModel.fit_ratings``)."""
    if len(policies) != len(arm_names) or len(policies) < 2:
        raise ValueError(
            f"need at least two arms, one name each; got {len(policies)} policies, {len(arm_names)} names"
        )
    if retrain_every is not None:
        check_learners(policies, retrain_every)
    users = np.asarray(users, dtype=np.int64)
    saved = None
    if state_path is not None:
        fingerprint = {
            "arm_names": list(arm_names),
            "policies": [type(p).__name__ for p in policies],
            **{"seed": seed, "salt": salt, "rounds": rounds, "k": k, "patience": patience},
            **{"num_items": num_items, "retrain_every": retrain_every},
            "users": digest(users),
            "user_ids": digest([str(u) for u in user_ids]),
            "world": digest(
                click_model.scores, click_model.bias, click_model.temperature, click_model.star_cuts
            ),
            "item_features": None if item_features is None else digest(np.asarray(item_features)),
        }
        saved = load_state(state_path, fingerprint)
        if saved is not None and retrain_every is not None:
            for policy, learned in zip(policies, saved.policies, strict=True):
                if isinstance(policy, Learner):
                    policy.restore(learned)
    simulation = Simulation(
        click_model,
        users,
        user_ids,
        len(policies),
        salt,
        num_items,
        rounds,
        k,
        patience,
        seed,
        item_features,
        saved,
    )
    state = simulation.state
    bar = tqdm(range(state.next_round, rounds), desc="rounds", disable=None if progress else True)
    for t in bar:
        for a, policy in enumerate(policies):
            arm_users, slates, clicked = simulation.play(t, a, policy)
            if len(arm_users) == 0:
                continue
            for observer in observers:
                observer.on_round(t, a, arm_users, slates, clicked)
            if retrain_every is not None and isinstance(policy, Learner):
                feed(policy, arm_users, slates, clicked)
        if refit_due(t, rounds, retrain_every):
            for policy in policies:
                if isinstance(policy, Learner):
                    policy.refit()
        if state_path is not None:
            state.next_round = t + 1
            if retrain_every is not None:
                state.policies = [p.state() if isinstance(p, Learner) else {} for p in policies]
            save_state(state_path, state, fingerprint)
    return simulation.result(arm_names)


def check_learners(policies: Sequence[Policy], retrain_every: int) -> None:
    if retrain_every < 1:
        raise ValueError(f"retrain_every: expected a number of rounds >= 1, got {retrain_every}")
    if not any(isinstance(p, Learner) for p in policies):
        raise ValueError("retrain_every: no arm can learn; wrap a recommender in a policies.RetrainingPolicy")
    learners = [id(p) for p in policies if isinstance(p, Learner)]
    if len(set(learners)) < len(learners):
        raise ValueError(
            "retrain_every: one learning policy serves two arms; give each arm its own (A/A too)"
        )


def merge_results(parts: Sequence[ABResult]) -> ABResult:
    """One result from shards of users (each shard simulated alone), users in shard order."""
    first = parts[0]
    return ABResult(
        first.arm_names,
        np.concatenate([p.users for p in parts]),
        np.concatenate([p.arms for p in parts]),
        np.concatenate([p.impressions for p in parts], axis=1),
        np.concatenate([p.clicks for p in parts], axis=1),
        np.concatenate([p.left_at for p in parts]),
        [sum(padded([p.exposure[a] for p in parts])) for a in range(len(first.arm_names))],
        diversity=None if first.diversity is None else np.concatenate([p.diversity for p in parts], axis=1),
        rating_sum=None
        if first.rating_sum is None
        else np.concatenate([p.rating_sum for p in parts], axis=1),
    )


def run_abtest_on_ray(
    policies: Sequence[Policy],
    arm_names: Sequence[str],
    click_model: ClickModel,
    users: np.ndarray,
    user_ids: Sequence[object],
    num_items: int,
    workers: int = 2,
    address: str | None = None,
    **options: object,
) -> ABResult:
    """``run_abtest`` with the users sharded over Ray workers (a local ``ray.init`` by default, an
    existing cluster with ``address``); the merged result equals one process's (tested).

    Without retraining each worker runs its shard's whole test alone: a user's arm and draws depend
    only on their id, the seed and the round, and the policies do not change. With
    ``retrain_every`` the shards run in lockstep (:func:`lockstep`): every arm's round is played by
    all shards, their feedback joined in user order on the driver, where the learners update and
    refit; a refitted policy is sent to the workers again. A learner's slates must therefore change
    only when it refits (``RetrainingPolicy``'s do), not in ``update``.

    Observers and a saved state are refused: observers may change the world in the driver
    (creators adding items) where the workers cannot see it, and shards are not saved."""
    if options.get("observers"):
        raise ValueError("observers: not supported on Ray (each shard would see only its users); run_abtest")
    if options.get("state_path") is not None:
        raise ValueError("state_path: not supported on Ray (shards are not saved); use run_abtest")
    import ray

    from recsys.ray_session import ray_session

    chunks = [c for c in np.array_split(np.arange(len(users)), workers) if len(c)]
    ids = list(user_ids)
    with ray_session(address, workers):
        if options.get("retrain_every") is not None:
            shards = [(users[c], [ids[i] for i in c]) for c in chunks]
            return lockstep(policies, arm_names, click_model, shards, num_items, **options)  # type: ignore[arg-type]
        shared = ray.put((list(policies), list(arm_names), click_model, num_items, options))

        @ray.remote(num_cpus=1)
        def shard(payload, shard_users: np.ndarray, shard_ids: list) -> ABResult:
            import torch

            torch.set_num_threads(1)
            shard_policies, names, clicks, items, opts = payload
            return run_abtest(shard_policies, names, clicks, shard_users, shard_ids, items, **opts)

        futures = [shard.remote(shared, users[c], [ids[i] for i in c]) for c in chunks]
        return merge_results(ray.get(futures))


def lockstep(
    policies: Sequence[Policy],
    arm_names: Sequence[str],
    click_model: ClickModel,
    shards: Sequence[tuple[np.ndarray, list]],
    num_items: int,
    retrain_every: int,
    rounds: int = 50,
    k: int = 10,
    patience: int = 5,
    seed: int = 2026,
    salt: str = "ab",
    progress: bool = False,
    item_features: np.ndarray | None = None,
) -> ABResult:
    """A retraining run with one Ray actor per shard of (users, user ids), driven round by round
    (inside a running Ray session); the same loop as ``run_abtest``'s, shard outputs joined in
    shard order (= the users' order in one process)."""
    import ray

    check_learners(policies, retrain_every)

    @ray.remote(num_cpus=1)
    class Shard:
        def __init__(self, world, shard_users, shard_ids) -> None:
            import torch

            torch.set_num_threads(1)
            self.simulation = Simulation(
                world,
                shard_users,
                shard_ids,
                len(policies),
                salt,
                num_items,
                rounds,
                k,
                patience,
                seed,
                item_features,
            )
            self.policies: dict[int, tuple[str, Policy]] = {}  # arm -> (object id, policy), fetched once

        def play(self, t: int, a: int, boxed: list):
            ref = boxed[0]  # boxed so that Ray hands over the reference, not a fresh copy per call
            if a not in self.policies or self.policies[a][0] != ref.hex():
                self.policies[a] = (ref.hex(), ray.get(ref))
            return self.simulation.play(t, a, self.policies[a][1])

        def result(self) -> ABResult:
            return self.simulation.result(arm_names)

    world = ray.put(click_model)
    actors = [Shard.remote(world, shard_users, shard_ids) for shard_users, shard_ids in shards]
    sent = [ray.put(p) for p in policies]
    for t in tqdm(range(rounds), desc="rounds", disable=None if progress else True):
        for a, policy in enumerate(policies):
            parts = ray.get([actor.play.remote(t, a, [sent[a]]) for actor in actors])
            arm_users = np.concatenate([u for u, _, _ in parts])
            if len(arm_users) and isinstance(policy, Learner):
                feed(policy, arm_users, *(np.concatenate([part[i] for part in parts]) for i in (1, 2)))
        if refit_due(t, rounds, retrain_every):
            for a, policy in enumerate(policies):
                if isinstance(policy, Learner):
                    policy.refit()
                    sent[a] = ray.put(policy)
    return merge_results(ray.get([actor.result.remote() for actor in actors]))
