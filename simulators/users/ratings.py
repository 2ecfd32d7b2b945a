"""The rating a simulated user gives the item it chose, and how far it is from the real one.

A simulator's output is a choice *and* a rating (issue 12). Baselines learn from the training
log only (:func:`baseline_ratings`): the global mean, the user's mean, the item's mean, and the
damped user + item biases of a baseline predictor (r = mu + b_u + b_i, item biases first, each
shrunk towards 0 by a pseudo-count; Koren's "baseline estimates"). The LM's rating
(:func:`lm_expected_ratings`) is read, like its choice, from likelihoods: after the user's part of
the prompt (persona, rated history) comes ``Now you chose: <title> (rated`` — the format of the
history lines — and the rating is the expectation over the LM's next-token probabilities of the
digits 1..5, renormalised over those five. Its one-sentence reason is generated only on request
(:func:`lm_reason`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys.data import Interactions
from simulators.users.exposures import Exposure

LEVELS = np.arange(1, 6, dtype=np.float64)  # the 1..5 stars of MovieLens and Amazon reviews


def baseline_ratings(
    train: Interactions, users: np.ndarray, items: np.ndarray, damping: float = 5.0
) -> dict[str, np.ndarray]:
    """Each baseline's predicted rating of the (user, item) pairs (internal ids), from ``train``'s
    ratings only; a user or item absent from ``train`` falls back to the global mean."""
    if train.ratings is None:
        raise ValueError("baseline_ratings: the training log has no ratings")
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    r = train.ratings.astype(np.float64)
    mu = float(r.mean())

    def mean_by(
        index: np.ndarray, size: int, values: np.ndarray, shrink: float
    ) -> tuple[np.ndarray, np.ndarray]:
        total = np.bincount(index, weights=values, minlength=size)
        count = np.bincount(index, minlength=size)
        denominator = count + shrink
        return np.divide(total, denominator, out=np.zeros(size), where=denominator > 0), count

    user_mean, user_count = mean_by(train.users, train.num_users, r, 0.0)
    item_mean, item_count = mean_by(train.items, train.num_items, r, 0.0)
    b_item, _ = mean_by(train.items, train.num_items, r - mu, damping)
    b_user, _ = mean_by(train.users, train.num_users, r - mu - b_item[train.items], damping)
    return {
        "global mean": np.full(len(users), mu),
        "user mean": np.where(user_count[users] > 0, user_mean[users], mu),
        "item mean": np.where(item_count[items] > 0, item_mean[items], mu),
        "user + item bias": np.clip(mu + b_user[users] + b_item[items], LEVELS[0], LEVELS[-1]),
    }


def rating_mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error between predicted and real ratings."""
    predicted, actual = np.asarray(predicted, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if predicted.shape != actual.shape or len(actual) == 0:
        raise ValueError(
            f"rating_mae: shapes {predicted.shape} and {actual.shape}; expected equal, non-empty"
        )
    return float(np.abs(predicted - actual).mean())


def _digit_ids(tokenizer) -> list[list[int]]:
    """Per star level, the token ids that spell it right after "(rated": " 4" and "4"."""
    out = []
    for level in LEVELS.astype(int):
        ids = set()
        for text in (f" {level}", f"{level}"):
            tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(tokens) == 1:
                ids.add(tokens[0])
        if not ids:
            raise ValueError(f"the tokenizer has no single token for the rating {level}")
        out.append(sorted(ids))
    return out


def lm_rating_distributions(user, exposures: Sequence[Exposure], chosen: Sequence[str]) -> np.ndarray:
    """(B, 5) the LM's probabilities of the ratings 1..5 that user b gives item ``chosen[b]``.

    ``user`` is an ``LMUser`` (its model, tokenizer, titles and prompt format)."""
    import torch

    if len(exposures) != len(chosen):
        raise ValueError(f"exposures and chosen: {len(exposures)} and {len(chosen)} entries; expected equal")
    digits = _digit_ids(user.tokenizer)
    out = np.zeros((len(exposures), len(LEVELS)))
    with torch.no_grad():
        for b, (exposure, item) in enumerate(zip(exposures, chosen, strict=True)):
            head, _ = user.parts(exposure)
            ids = user.tokenizer(head + f"Now you chose: {user.item_texts[item]} (rated")["input_ids"]
            logits = user.model(input_ids=torch.tensor([ids]), logits_to_keep=1).logits[0, -1]
            p = torch.softmax(logits.float(), dim=-1)
            out[b] = [float(p[d].sum()) for d in digits]
    return out / out.sum(axis=1, keepdims=True)


def lm_expected_ratings(user, exposures: Sequence[Exposure], chosen: Sequence[str]) -> np.ndarray:
    """(B,) the expected rating under :func:`lm_rating_distributions`."""
    return lm_rating_distributions(user, exposures, chosen) @ LEVELS


def lm_reason(user, exposure: Exposure, item: str, max_new_tokens: int = 40) -> str:
    """One sentence, generated greedily, on why the user chose ``item`` (slow: only on request)."""
    import torch

    head, _ = user.parts(exposure)
    prompt = head + f"Now you chose: {user.item_texts[item]}. In one sentence, why?\nBecause"
    ids = user.tokenizer(prompt, return_tensors="pt")
    pad = (
        user.tokenizer.pad_token_id
        if user.tokenizer.pad_token_id is not None
        else user.tokenizer.eos_token_id
    )
    with torch.no_grad():
        out = user.model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
    text = user.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    sentence = text.strip().split("\n")[0]
    end = sentence.find(".")
    return "Because " + (sentence[: end + 1] if end >= 0 else sentence)
