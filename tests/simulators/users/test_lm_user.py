"""The LM simulator scores options with one shared prompt cache; the result equals scoring each
prompt + option sequence on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simulators.alignment.sequences import collate_sequences, sequence_logprobs, tokenize_completion
from simulators.users import Exposure
from simulators.users.lm import LMUser

TEXTS = {"1": "Heat (1995)", "2": "Babe (1995)", "3": "Fargo (1996)", "4": "Alien (1979)", "5": "Up"}


def exposure(options=("3", "4", "5"), target=1) -> Exposure:
    return Exposure(user="u1", history=(("1", 5.0), ("2", 3.0)), options=options, target=target)


def test_cached_batched_scores_equal_one_sequence_at_a_time(model, tokenizer):
    user = LMUser(model, tokenizer, TEXTS, personas={"u1": "a 24 year old technician"})
    e = exposure()
    assert "a 24 year old technician" in user.prompt(e) and user.prompt(e).endswith("Answer:")
    fast = user.option_scores(e)
    slow = []
    for item in e.options:
        seq = tokenize_completion(tokenizer, user.prompt(e), " " + TEXTS[item], max_length=None)
        batch = collate_sequences([seq], tokenizer.pad_token_id)
        with torch.no_grad():
            total = sequence_logprobs(
                model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
            )
        slow.append(float(total[0]) / sum(seq["completion_mask"]))
    assert np.allclose(fast, slow, atol=1e-4)


def test_probabilities_rows_sum_to_one_and_lengths_must_match(model, tokenizer):
    user = LMUser(model, tokenizer, TEXTS)
    probabilities = user.choice_probabilities([exposure(), exposure(("5", "3", "1"), 0)])
    assert probabilities.shape == (2, 3) and np.allclose(probabilities.sum(1), 1)
    with pytest.raises(ValueError, match="same length"):
        user.choice_probabilities([exposure(), exposure(("5", "3"), 0)])
