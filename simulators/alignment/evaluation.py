"""Held-out preference accuracy of a causal LM on pairwise examples, before and after tuning.

The policy "prefers" the chosen completion when it gives it the higher log-probability
(``likelihood``), or, measured against the base model as DPO's implicit reward does, when
``log π(c)/π_base(c) > log π(r)/π_base(r)`` (``log-ratio``). The base model's own log-ratio is zero
everywhere, so its log-ratio accuracy is 0.5 by definition; its likelihood accuracy is the baseline.
"""

from __future__ import annotations

import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerBase

from simulators.alignment.sequences import collate_sequences, sequence_logprobs, tokenize_completion


def pair_logprobs(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Dataset,
    max_length: int | None = 512,
    batch_size: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) log π(chosen | prompt) and (N,) log π(rejected | prompt) for pairwise rows."""
    model.eval()
    chosen, rejected = [], []
    device = next(model.parameters()).device
    for start in range(0, len(pairs), batch_size):
        rows = pairs[start : start + batch_size]
        for column, out in (("chosen", chosen), ("rejected", rejected)):
            pieces = [
                tokenize_completion(tokenizer, p, c, max_length)
                for p, c in zip(rows["prompt"], rows[column], strict=True)
            ]
            batch = {k: v.to(device) for k, v in collate_sequences(pieces, tokenizer.pad_token_id).items()}
            with torch.no_grad():
                out.append(sequence_logprobs(model, **batch).float().cpu())
    return torch.cat(chosen), torch.cat(rejected)


def preference_metrics(
    base: tuple[torch.Tensor, torch.Tensor], tuned: tuple[torch.Tensor, torch.Tensor]
) -> dict[str, float]:
    """Accuracies and mean margins from (chosen, rejected) log-probs of the base and the tuned model.

    Ties count half (a log-ratio of exactly zero is no preference).
    """

    def accuracy(margin: torch.Tensor) -> float:
        return float(((margin > 0).float() + 0.5 * (margin == 0).float()).mean())

    base_margin = base[0] - base[1]  # (N,)
    tuned_margin = tuned[0] - tuned[1]  # (N,)
    ratio_margin = (tuned[0] - base[0]) - (tuned[1] - base[1])  # (N,)
    return {
        "base_likelihood_accuracy": accuracy(base_margin),
        "tuned_likelihood_accuracy": accuracy(tuned_margin),
        "log_ratio_accuracy": accuracy(ratio_margin),
        "base_margin": float(base_margin.mean()),
        "tuned_margin": float(tuned_margin.mean()),
        "log_ratio_margin": float(ratio_margin.mean()),
        "pairs": len(base_margin),
    }
