"""LiPO-λ: Listwise Preference Optimization through Learning-to-Rank (Liu et al., 2024).

Each example is a prompt with a list of completions and their graded relevance ψ (data layout
``prompt, completions, relevance``). Every completion is scored ``s_i = β·log(π(y_i|x)/π_ref(y_i|x))``
and the list is trained with the lambda-weighted pairwise logistic loss of
:func:`simulators.alignment.losses.lipo_lambda_loss`. A batch of B lists runs the model once over all
of their completions (sum of the list lengths rows).
"""

from __future__ import annotations

from collections import defaultdict

import torch
from datasets import Dataset
from peft import PeftConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback

from simulators.alignment.lipo_config import LiPOConfig
from simulators.alignment.losses import implicit_rewards, lipo_lambda_loss
from simulators.alignment.reference import reference_logprobs, with_reference
from simulators.alignment.sequences import collate_sequences, sequence_logprobs, tokenize_completion


def collate_lists(rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Flatten B lists into one batch of sequences plus the (B, K) relevance and list mask.

    Returns ``input_ids``, ``attention_mask``, ``completion_mask`` (N, T) for the N completions,
    ``list_index`` and ``position`` (N,) saying where each sits, ``relevance`` (B, K) and
    ``list_mask`` (B, K) bool, K the longest list.
    """
    width = max(len(row["relevance"]) for row in rows)
    sequences, list_index, position = [], [], []
    relevance = torch.zeros(len(rows), width)
    list_mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, row in enumerate(rows):
        for k, (ids, mask) in enumerate(zip(row["input_ids"], row["completion_mask"], strict=True)):
            sequences.append({"input_ids": ids, "completion_mask": mask})
            list_index.append(b)
            position.append(k)
        relevance[b, : len(row["relevance"])] = torch.tensor(row["relevance"])
        list_mask[b, : len(row["relevance"])] = True
    return {
        **collate_sequences(sequences, pad_id),
        "list_index": torch.tensor(list_index),
        "position": torch.tensor(position),
        "relevance": relevance,
        "list_mask": list_mask,
    }


class LiPOTrainer(Trainer):
    """Trains a causal LM with the LiPO-λ listwise loss; same constructor shape as TRL's ``DPOTrainer``."""

    loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean

    def __init__(
        self,
        model: PreTrainedModel,
        ref_model: PreTrainedModel | None = None,
        args: LiPOConfig | None = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        peft_config: PeftConfig | None = None,
        callbacks: list[TrainerCallback] | None = None,
    ) -> None:
        args = args or LiPOConfig(output_dir="lipo")
        model, self.ref_model = with_reference(model, ref_model, peft_config)
        tokenizer = processing_class
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

        def tokenize_row(row: dict) -> dict:
            if len(row["completions"]) != len(row["relevance"]) or len(row["completions"]) < 2:
                raise ValueError(f"a LiPO list needs >= 2 completions, one relevance each; got {row}")
            pieces = [
                tokenize_completion(tokenizer, row["prompt"], c, args.max_length) for c in row["completions"]
            ]
            return {
                "input_ids": [p["input_ids"] for p in pieces],
                "completion_mask": [p["completion_mask"] for p in pieces],
                "relevance": [float(r) for r in row["relevance"]],
            }

        def tokenize(dataset: Dataset | None) -> Dataset | None:
            if dataset is None:
                return None
            for column in ("prompt", "completions", "relevance"):
                if column not in dataset.column_names:
                    raise ValueError(f"LiPO data needs a '{column}' column; found {dataset.column_names}")
            return dataset.map(tokenize_row, remove_columns=dataset.column_names)

        super().__init__(
            model=model,
            args=args,
            data_collator=lambda rows: collate_lists(rows, tokenizer.pad_token_id),
            train_dataset=tokenize(train_dataset),
            eval_dataset=tokenize(eval_dataset),
            processing_class=tokenizer,
            callbacks=callbacks,
        )
        if self.ref_model is not None:
            self.ref_model.to(self.args.device)
        self._metrics: dict[str, list[float]] = defaultdict(list)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        policy = sequence_logprobs(
            model, inputs["input_ids"], inputs["attention_mask"], inputs["completion_mask"]
        )
        ref = reference_logprobs(model, self.ref_model, inputs)  # (N,)
        flat = implicit_rewards(policy, ref, self.args.beta)  # (N,)
        relevance, mask = inputs["relevance"], inputs["list_mask"]  # (B, K)
        scores = flat.new_zeros(relevance.shape).index_put((inputs["list_index"], inputs["position"]), flat)
        loss = lipo_lambda_loss(scores, relevance, mask)
        with torch.no_grad():  # share of ordered pairs (ψ_i > ψ_j) the scores rank right
            pairs = (relevance[:, :, None] > relevance[:, None, :]) & mask[:, :, None] & mask[:, None, :]
            right = (scores[:, :, None] > scores[:, None, :]) & pairs
        prefix = "" if model.training else "eval_"
        self._metrics[f"{prefix}pair_accuracy"].append(float(right.sum() / pairs.sum().clamp(min=1)))
        self._metrics[f"{prefix}scores/mean"].append(float(flat.detach().mean()))
        return (loss, {}) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        with torch.no_grad():
            loss = self.compute_loss(model, self._prepare_inputs(inputs))
        return loss.detach(), None, None

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        prefix = "eval_" if any(key.startswith("eval_") for key in logs) else ""
        for key in [
            k for k in self._metrics if k.startswith(prefix) and (prefix or not k.startswith("eval_"))
        ]:
            values = self._metrics.pop(key)
            if values:
                logs[key] = sum(values) / len(values)
        super().log(logs, start_time)
