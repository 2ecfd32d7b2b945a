"""Preference data from hard-negative exposures: training examples whose shown lists are built the way
protocol 2 builds its evaluation lists (:func:`simulators.users.exposures.hard_exposures`: negatives
interleaved from a random list matched to the chosen item's popularity and release year, a
recommender's top items and the items closest to the user's genre taste; nothing the user had, nothing
released after the event).

The popularity-sampled data of :func:`simulators.preference_data.build_preferences` teaches a model
that the chosen item is rarely the obscure one; on protocol 2's lists that cue is gone (issue 12). Here
the anchors are a seeded sample of each user's liked events with enough history, every anchor one
exposure, and each exposure one pairwise row: the prompt the LM user simulator reads for that exposure
(by default with its list shown: persona, the last ``history`` rated titles, the options in display
order), the chosen item's text and one of the negatives' (seeded). ``sft_view`` of the rows is
SFT data; the rows themselves are DPO data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from recsys.data import Interactions
from simulators.preference_data import (
    PreferenceData,
    held_out_users,
    split_by_user,
)
from simulators.users.exposures import Exposure, HeldOut, time_order


def training_anchors(
    log: Interactions, min_history: int = 5, like: float = 4.0, max_per_user: int = 2, seed: int = 2026
) -> HeldOut:
    """Up to ``max_per_user`` events per user (a seeded sample) rated >= ``like`` (every event of an
    implicit log) with at least ``min_history`` earlier events, as a :class:`HeldOut` over ``log``
    itself (nothing is removed: the anchors are training examples, not held-out targets)."""
    if max_per_user < 1:
        raise ValueError(f"max_per_user: expected at least 1 anchor per user, got {max_per_user}")
    rng = np.random.default_rng(seed)
    order = time_order(log)
    users = log.users[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(order)]
    chosen_users, chosen_rows = [], []
    for s, e in zip(starts, ends, strict=True):
        rows = order[s + min_history : e]  # events with at least min_history earlier ones
        if log.ratings is not None:
            rows = rows[log.ratings[rows] >= like]
        if len(rows) > max_per_user:
            rows = np.sort(rng.choice(rows, size=max_per_user, replace=False))
        chosen_users += [int(users[s])] * len(rows)
        chosen_rows += [int(r) for r in rows]
    return HeldOut(train=log, users=np.array(chosen_users, dtype=np.int64), targets=np.array(chosen_rows))


def build_hard_preferences(
    exposures: Sequence[Exposure],
    item_texts: Mapping[str, str],
    personas: Mapping[str, str] | None = None,
    history: int = 5,
    eval_fraction: float = 0.05,
    seed: int = 2026,
    prompt: Callable[[Exposure], str] | None = None,
) -> PreferenceData:
    """Pairwise rows (``prompt, chosen, rejected, user``) from exposures whose ``target`` is the item
    the user took; users split as ``build_preferences`` splits them (``eval_fraction``, ``seed``).
    ``prompt`` builds each row's prompt (default: the LM simulator's listed prompt with ``history``
    lines and full titles, ``simulators.users.lm.prompt_parts``; another variant's for other prompts)."""
    if prompt is None:
        from simulators.users.lm import prompt_parts

        def prompt(exposure: Exposure) -> str:
            return "".join(prompt_parts(exposure, item_texts, personas, True, history, None))

    if not exposures:
        raise ValueError("no exposures to build preference data from")
    rng = np.random.default_rng(seed)
    rows = []
    for exposure in exposures:
        negatives = [o for k, o in enumerate(exposure.options) if k != exposure.target]
        if not negatives:
            raise ValueError(f"user {exposure.user}: an exposure with one option has no rejected item")
        rows.append(
            {
                "prompt": prompt(exposure),
                "chosen": " " + item_texts[exposure.options[exposure.target]],
                "rejected": " " + item_texts[negatives[int(rng.integers(len(negatives)))]],
                "user": exposure.user,
            }
        )
    users = sorted({e.user for e in exposures})
    report = {"users": len(users), "anchors": len(rows), "examples": len(rows)}
    return split_by_user("pairwise", rows, held_out_users(users, eval_fraction, seed), report)
