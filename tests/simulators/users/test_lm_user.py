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


def test_without_the_list_scores_follow_the_items_not_their_positions(model, tokenizer):
    user = LMUser(model, tokenizer, TEXTS, list_in_prompt=False)
    e = exposure(("3", "4", "5"))
    assert "You are shown" not in user.prompt(e) and user.prompt(e).endswith("Answer:")
    forward = user.option_scores(e)
    fresh = LMUser(model, tokenizer, TEXTS, list_in_prompt=False)
    backward = fresh.option_scores(exposure(("5", "4", "3")))
    assert np.allclose(forward, backward[::-1], atol=1e-5)
    slow = []
    for item in e.options:
        seq = tokenize_completion(tokenizer, user.prompt(e), " " + TEXTS[item], max_length=None)
        batch = collate_sequences([seq], tokenizer.pad_token_id)
        with torch.no_grad():
            total = sequence_logprobs(
                model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
            )
        slow.append(float(total[0]) / sum(seq["completion_mask"]))
    assert np.allclose(forward, slow, atol=1e-4)
    assert len(user._scores) == 3  # cached per (user, history, item): a later round reuses them


def test_user_prompt_cache_and_chunks_give_the_same_scores(model, tokenizer):
    user = LMUser(model, tokenizer, TEXTS, chunk=2, cache_users=1)
    lists = [exposure(), exposure(("5", "1", "2"), 0), exposure()]
    fresh = [LMUser(model, tokenizer, TEXTS).option_scores(e) for e in lists]
    assert np.allclose(user.scores(lists), np.stack(fresh), atol=1e-5)
    other = Exposure(user="u2", history=(("4", 2.0),), options=("1", "2", "3"), target=0)
    user.scores([other])
    assert len(user._prefixes) == 1  # the least recently used user was dropped


def test_history_and_title_limits_shorten_the_prompt(model, tokenizer):
    texts = {**TEXTS, "1": "A Very Long Title Indeed Of A Film (1995)"}
    user = LMUser(model, tokenizer, texts, history=1, title_chars=12)
    prompt = user.prompt(exposure())
    assert "Babe (1995)" in prompt and "Long" not in prompt
    assert "A Very… (1995)" in LMUser(model, tokenizer, texts, title_chars=12).prompt(exposure())


def test_position_offsets_shift_the_probabilities(model, tokenizer):
    plain = LMUser(model, tokenizer, TEXTS).choice_probabilities([exposure()])
    shifted = LMUser(model, tokenizer, TEXTS, position_offsets=np.array([5.0, 0.0, 0.0]))
    assert shifted.choice_probabilities([exposure()])[0, 0] > plain[0, 0]
    with pytest.raises(ValueError, match="position_offsets"):
        LMUser(model, tokenizer, TEXTS, position_offsets=np.zeros(2)).choice_probabilities([exposure()])


def test_int8_model_scores_close_to_float(model, tokenizer):
    import copy

    from simulators.users.lm import quantize_int8

    fast = LMUser(quantize_int8(copy.deepcopy(model)), tokenizer, TEXTS).option_scores(exposure())
    exact = LMUser(model, tokenizer, TEXTS).option_scores(exposure())
    assert fast.shape == exact.shape and np.abs(fast - exact).max() < 0.1


def test_int8_can_keep_named_layers_float(model, tokenizer):
    import copy

    from simulators.users.lm import quantize_int8

    partial = quantize_int8(copy.deepcopy(model), keep=("down_proj",))
    kinds = {name.rsplit(".", 1)[-1]: type(m) for name, m in partial.named_modules()}
    assert kinds["down_proj"] is torch.nn.Linear and "quantized" in kinds["up_proj"].__module__
    scores = LMUser(partial, tokenizer, TEXTS).option_scores(exposure())
    assert np.isfinite(scores).all()


def test_a_lora_adapter_from_a_run_folder_is_merged(model, tokenizer, tmp_path):
    from peft import LoraConfig, get_peft_model

    from simulators.users.lm import load_lm

    base = tmp_path / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    peft_model = get_peft_model(
        model, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    torch.manual_seed(1)
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_(0, 0.5)  # a trained adapter: B is no longer zero
    peft_model.save_pretrained(tmp_path / "run" / "final")
    with torch.no_grad():
        expected = LMUser(peft_model, tokenizer, TEXTS).option_scores(exposure())
    tuned, tok = load_lm(str(base), tmp_path / "cache", adapter=tmp_path / "run" / "final")
    plain, _ = load_lm(str(base), tmp_path / "cache")
    scores = LMUser(tuned, tok, TEXTS).option_scores(exposure())
    assert np.allclose(scores, expected, atol=1e-4)
    assert not np.allclose(scores, LMUser(plain, tok, TEXTS).option_scores(exposure()), atol=1e-3)
    with pytest.raises(FileNotFoundError, match="adapter_config"):
        load_lm(str(base), tmp_path / "cache", adapter=tmp_path / "run")


def test_load_lm_int8_keeps_the_down_projections_float_and_refuses_a_gpu(model, tokenizer, tmp_path):
    from simulators.users.lm import load_lm

    base = tmp_path / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    quantized, tok = load_lm(str(base), tmp_path / "cache", int8=True)
    kinds = {name.rsplit(".", 1)[-1]: type(m) for name, m in quantized.named_modules()}
    assert kinds["down_proj"] is torch.nn.Linear and "quantized" in kinds["q_proj"].__module__
    assert np.isfinite(LMUser(quantized, tok, TEXTS).option_scores(exposure())).all()
    with pytest.raises(ValueError, match="CPU only"):
        load_lm(str(base), tmp_path / "cache", int8=True, device="cuda")
    on_cpu, _ = load_lm(str(base), tmp_path / "cache", device="cpu")
    assert LMUser(on_cpu, tok, TEXTS).device.type == "cpu"


# --- item prior (PMI correction) -------------------------------------------------------------------


def slow_scores(model, tokenizer, prompt: str, items) -> np.ndarray:
    """Mean log-prob per token of each item's text after ``prompt``, one sequence at a time."""
    out = []
    for item in items:
        seq = tokenize_completion(tokenizer, prompt, " " + TEXTS[item], max_length=None)
        batch = collate_sequences([seq], tokenizer.pad_token_id)
        with torch.no_grad():
            total = sequence_logprobs(
                model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
            )
        out.append(float(total[0]) / sum(seq["completion_mask"]))
    return np.array(out)


def test_prior_weight_zero_leaves_the_scores_unchanged(model, tokenizer):
    e = exposure(("3", "4", "5"))
    plain = LMUser(model, tokenizer, TEXTS, list_in_prompt=False).option_scores(e)
    zero = LMUser(model, tokenizer, TEXTS, list_in_prompt=False, prior_weight=0.0)
    assert np.array_equal(zero.option_scores(e), plain) and zero._priors == {}  # no prior computed


def test_prior_weight_subtracts_the_empty_history_score_of_each_title(model, tokenizer):
    personas = {"u1": "a 24 year old technician"}
    e = exposure(("3", "4", "5", "1"))
    raw = LMUser(model, tokenizer, TEXTS, personas, list_in_prompt=False, history=1).option_scores(e)
    corrected = LMUser(model, tokenizer, TEXTS, personas, list_in_prompt=False, history=1, prior_weight=0.8)
    # the prior: the no-list prompt of a user with no persona and no history, scored one title at a time
    blank = LMUser(model, tokenizer, TEXTS, list_in_prompt=False)
    empty_prompt = blank.prompt(Exposure(user="", history=(), options=e.options, target=0))
    assert "Recently you chose" in empty_prompt and "technician" not in empty_prompt
    prior = slow_scores(model, tokenizer, empty_prompt, e.options)
    assert not np.allclose(raw, raw - 0.8 * prior, atol=1e-2)  # the correction is not negligible here
    assert np.allclose(corrected.option_scores(e), raw - 0.8 * prior, atol=1e-4)
    assert np.allclose(corrected.prior(["5", "3"]), prior[[2, 0]], atol=1e-4)
    # what the benchmark's cached item prior was before LMUser.prior: a blank user's no-list scores
    before = blank.option_scores(Exposure(user="", history=(), options=e.options, target=0))
    assert np.array_equal(LMUser(model, tokenizer, TEXTS, personas).prior(e.options), before)


def test_each_items_prior_is_computed_once(model, tokenizer):
    user = LMUser(model, tokenizer, TEXTS, list_in_prompt=False, prior_weight=0.5)
    scored = []  # the items of each batched pass after the empty-history prompt
    real = user._score_options

    def counting(cache, first, length, items):
        if user._prior_prefix is not None and cache is user._prior_prefix[0]:
            scored.append(list(items))
        return real(cache, first, length, items)

    user._score_options = counting
    other = Exposure(user="u2", history=(("4", 2.0),), options=("5", "1", "3"), target=0)
    first = user.scores([exposure(("3", "4", "5")), other, exposure(("5", "3", "4"))])
    again = user.scores([exposure(("3", "4", "5"))])
    assert scored == [["3", "4", "5"], ["1"]]  # one batched pass per list with new items, each item once
    assert np.array_equal(again[0], first[0]) and set(user._priors) == {"1", "3", "4", "5"}


def test_a_negative_prior_weight_or_one_with_the_list_in_the_prompt_is_refused(model, tokenizer):
    with pytest.raises(ValueError, match="prior_weight must be >= 0"):
        LMUser(model, tokenizer, TEXTS, list_in_prompt=False, prior_weight=-0.1)
    with pytest.raises(ValueError, match="prior_weight must be >= 0"):
        LMUser(model, tokenizer, TEXTS, list_in_prompt=False, prior_weight=float("nan"))
    with pytest.raises(ValueError, match="list_in_prompt=False"):
        LMUser(model, tokenizer, TEXTS, list_in_prompt=True, prior_weight=0.8)
    assert LMUser(model, tokenizer, TEXTS, list_in_prompt=True, prior_weight=0.0).prior_weight == 0.0
