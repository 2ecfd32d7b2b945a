"""Preference data from served slates: what the service showed, what the user clicked, what the user
passed over.

The slates are :func:`simulators.users.feedback_exposures.served_slates`'s (impressions ordered by
position, every shown item clicked, the user's history from the base log then earlier store clicks;
its rules decide which slates are usable and count the others). Each slate gives one prompt in
:mod:`simulators.preference_data`'s format (persona, history, the items shown), with the slate's items
in the order the service showed them, so a model trained on served data reads the prompts the log-built
data and the LM simulator use.

A click is a choice; a shown item not clicked was passed over. Which shown items count as passed over
is ``passed_over``:

- ``all``: every shown item not clicked;
- ``above``: only those shown above the last click. Under the examination assumption of click models
  (a user scans top-down and stops after the last click, Craswell et al. 2008; "click > skip above",
  Joachims 2002), those are the items the user saw and left; one below may never have been looked at.

The items considered are the clicked ones and the passed-over ones. Layouts (the columns of
:mod:`simulators.preference_data`, plus ``user`` and ``slate``, the slate id):

- **pairwise** ``prompt, chosen, rejected`` (DPO, SFT): one row per clicked x passed-over pair;
- **binary** ``prompt, completion, label`` (KTO, BCO): each clicked item True, each passed-over False;
- **listwise** ``prompt, completions, relevance`` (LiPO): the considered items in the order shown,
  relevance 1.0 clicked and 0.0 passed over.

Judgments (CUT) need review texts, which clicks do not have. A slate with no passed-over item (every
considered item clicked, e.g. one click at the top under ``above``) gives nothing (``no_passed_over``).
Users are split as :func:`simulators.preference_data.build_preferences` splits the base log's users
(same seed and share: the same users held out); users the base log lacks are split by their own seeded
permutation (in order of first slate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from recsys.data import Interactions
from simulators.preference_data import (
    Kind,
    PreferenceData,
    checked_texts,
    choice_prompt,
    held_out_users,
    history_lines,
    split_by_user,
)
from simulators.users.feedback_exposures import DROP_REASONS, ServedSlate, served_slates

PassedOver = Literal["all", "above"]
LAYOUTS = ("pairwise", "binary", "listwise")


def build_slate_preferences(
    events: pd.DataFrame,
    base: Interactions,
    kind: Kind,
    item_texts: Sequence[str] | None = None,
    personas: Sequence[str] | None = None,
    n: int | None = None,
    history: int = 10,
    passed_over: PassedOver = "all",
    max_per_user: int | None = None,
    eval_fraction: float = 0.1,
    seed: int = 2026,
) -> PreferenceData:
    """Build one layout of preference examples from served slates and split it by user.

    Args:
        events: impressions and clicks, as ``read_store_events`` or ``read_export_csv`` give.
        base: the base interaction log (histories, the catalog, the users of the split).
        kind: ``pairwise``, ``binary`` or ``listwise``.
        item_texts: (num_items,) text per internal item id of ``base`` (default ``"item <id>"``).
        personas: (num_users,) a description per internal user id of ``base``, or None.
        n: items per slate; None takes the most common slate length (see ``served_slates``).
        history: at most this many history events shown in a prompt.
        passed_over: ``all`` shown items not clicked, or only those ``above`` the last click.
        max_per_user: at most this many slates per user (a seeded sample), or all.
        eval_fraction: share of users whose examples go to ``eval``.
        seed: seeds the user split and the slate sampling.

    Raises:
        ValueError: for judgments or an unknown layout, mismatched texts, or when no slate gives an example.
    """
    if kind == "judgments":
        raise ValueError("judgments (CUT) need review texts; served slates hold clicks only")
    if kind not in LAYOUTS:
        raise ValueError(f"unknown kind {kind!r}; served slates give one of {list(LAYOUTS)}")
    if passed_over not in ("all", "above"):
        raise ValueError(f"passed_over must be 'all' or 'above', got {passed_over!r}")
    if not 0 <= eval_fraction < 1:
        raise ValueError(f"eval_fraction must lie in [0, 1), got {eval_fraction}")
    item_texts = checked_texts(base, item_texts, personas)
    texts = dict(zip(map(str, base.item_ids), item_texts, strict=True))
    people = {} if personas is None else dict(zip(map(str, base.user_ids), personas, strict=True))
    slates, served = served_slates(events, base, n=n, history=history)

    log_users = [str(u) for u in base.user_ids]
    known = set(log_users)
    new_users = list(dict.fromkeys(s.exposure.user for s in slates if s.exposure.user not in known))
    all_users = log_users + new_users
    report = {"slates_read": served.slates, "slates_kept": served.kept}
    report.update({f"dropped_{reason}": served.dropped[reason] for reason in DROP_REASONS})
    report.update({"several_clicks": served.several_clicks, "new_users": len(new_users)})
    report.update({"no_passed_over": 0, "over_max_per_user": 0, "slates_used": 0, "users": 0})
    by_user: dict[str, list[ServedSlate]] = {}
    for slate in slates:
        by_user.setdefault(slate.exposure.user, []).append(slate)
    index = {user: k for k, user in enumerate(all_users)}
    rows: list[dict] = []
    for user, own in by_user.items():
        considered = [c for c in (_considered(s, passed_over) for s in own) if c is not None]
        report["no_passed_over"] += len(own) - len(considered)
        if max_per_user is not None and len(considered) > max_per_user:
            rng = np.random.default_rng([seed, index[user]])  # one generator per user
            picked = np.sort(rng.choice(len(considered), size=max_per_user, replace=False))
            report["over_max_per_user"] += len(considered) - max_per_user
            considered = [considered[k] for k in picked]
        for slate, items, clicked in considered:
            exposure = slate.exposure
            lines = history_lines(
                [texts[i] for i, _ in exposure.history],
                [r for _, r in exposure.history] if base.ratings is not None else None,
            )
            prompt = choice_prompt(people.get(user), lines, [texts[i] for i in exposure.options])
            common = {"user": user, "slate": slate.slate}
            rows.extend(_rows(kind, prompt, [" " + texts[i] for i in items], clicked, common))
        report["slates_used"] += len(considered)
        report["users"] += bool(considered)
    report["examples"] = len(rows)
    if not rows:
        raise ValueError(
            f"no served slate gives a {kind} example: {report['slates_kept']} usable slates, "
            f"{report['no_passed_over']} with no passed-over item (passed_over={passed_over!r})"
        )
    eval_users = held_out_users(log_users, eval_fraction, seed)
    eval_users |= held_out_users(new_users, eval_fraction, seed)
    built = split_by_user(kind, rows, eval_users, report)
    if not len(built.train):
        raise ValueError(
            f"all {report['users']} users with usable slates are held out for evaluation "
            f"(eval_fraction={eval_fraction}, seed={seed}): no training examples"
        )
    return built


def _considered(
    slate: ServedSlate, passed_over: PassedOver
) -> tuple[ServedSlate, list[str], list[bool]] | None:
    """The slate's considered items in the order shown and whether each was clicked, or None when none
    was passed over."""
    options = slate.exposure.options
    end = len(options) if passed_over == "all" else max(slate.clicked) + 1
    clicked = [k in slate.clicked for k in range(end)]
    if all(clicked):
        return None
    return slate, list(options[:end]), clicked


def _rows(kind: Kind, prompt: str, answers: list[str], clicked: list[bool], common: dict) -> list[dict]:
    """One slate's rows of ``kind``; ``answers`` are completions (a space, then the item's text)."""
    if kind == "listwise":
        return [
            {"prompt": prompt, "completions": answers, "relevance": [float(c) for c in clicked], **common}
        ]
    if kind == "binary":
        return [
            {"prompt": prompt, "completion": answer, "label": c, **common}
            for answer, c in zip(answers, clicked, strict=True)
        ]
    chosen = [a for a, c in zip(answers, clicked, strict=True) if c]
    rejected = [a for a, c in zip(answers, clicked, strict=True) if not c]
    return [{"prompt": prompt, "chosen": c, "rejected": r, **common} for c in chosen for r in rejected]
