"""Prompt + completion token sequences for our own trainers: tokenize, pad, score.

A sequence is ``prompt_ids + completion_ids + [eos]``: the prompt tokenized with the tokenizer's own
special tokens (a llama tokenizer adds its bos, SmolLM2's adds none), the completion without any,
as TRL does for its standard (non-chat) format. Only completion tokens (eos included) are scored.
When a sequence is longer than ``max_length`` the prompt loses tokens from its start (the most
recent history and the question sit at its end), and the completion is cut only if it alone is
longer than ``max_length``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase


def tokenize_completion(
    tokenizer: PreTrainedTokenizerBase, prompt: str, completion: str, max_length: int | None
) -> dict[str, list[int]]:
    """``input_ids`` and ``completion_mask`` (1 on completion tokens) of one prompt + completion."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    if max_length is not None and len(prompt_ids) + len(completion_ids) > max_length:
        completion_ids = completion_ids[: max_length - 1]
        prompt_ids = prompt_ids[len(prompt_ids) + len(completion_ids) - max_length :]
    return {
        "input_ids": prompt_ids + completion_ids,
        "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids),
    }


def pad(sequences: list[list[int]], value: int) -> torch.Tensor:
    """Right-pad lists of ints to one (B, T) long tensor."""
    width = max(len(s) for s in sequences)
    return torch.tensor([s + [value] * (width - len(s)) for s in sequences], dtype=torch.long)


def collate_sequences(examples: list[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """``input_ids``, ``attention_mask`` and ``completion_mask`` (B, T) from tokenized examples."""
    ids = [e["input_ids"] for e in examples]
    return {
        "input_ids": pad(ids, pad_id),
        "attention_mask": pad([[1] * len(s) for s in ids], 0),
        "completion_mask": pad([e["completion_mask"] for e in examples], 0),
    }


def token_logprobs(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """(B, T) log p(token_t | tokens_<t); position 0 (nothing predicts it) is 0."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits  # (B, T, V)
    logps = torch.gather(
        F.log_softmax(logits[:, :-1].float(), dim=-1), 2, input_ids[:, 1:, None]
    )  # (B, T-1, 1)
    return F.pad(logps.squeeze(2), (1, 0))  # (B, T)


def sequence_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
) -> torch.Tensor:
    """(B,) log π(completion | prompt): the sum of the completion tokens' log-probs."""
    return (token_logprobs(model, input_ids, attention_mask) * completion_mask).sum(dim=1)


def completion_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs of the completion tokens only, left-aligned.

    Two sequences with different prompts but the same completion give tensors whose column t is
    the same completion token, which is what CUT compares.

    Returns:
        (B, C) log-probs, zero where padded, and the (B, C) bool mask of real completion tokens.
    """
    logps = token_logprobs(model, input_ids, attention_mask)  # (B, T)
    mask = completion_mask.bool()  # (B, T)
    lengths = mask.sum(dim=1)  # (B,)
    width = int(lengths.max())
    # Position of each completion token within its completion: 0, 1, ...; others go to column `width`.
    column = torch.where(mask, mask.cumsum(dim=1) - 1, width)  # (B, T)
    out = logps.new_zeros(logps.shape[0], width + 1).scatter_(1, column, logps * mask)  # (B, C+1)
    aligned = torch.arange(width, device=logps.device)[None, :] < lengths[:, None]  # (B, C)
    return out[:, :width], aligned
