"""CUT: Contrastive Unlikelihood Training (Xu et al., "Reasons to Reject? Aligning Language Models
with Judgments", 2023).

Data layout ``prompt, completion, judgment, label`` (label True for a positive judgment). A
positive example is plain likelihood. A negative example is scored twice: with its judgment shown
(``judged_prompt``; plain likelihood, "Align-N") and without it, where the tokens whose probability
the judgment raises by more than a factor λ are the inappropriate part and get the unlikelihood
loss ``−α·log(1 − p)`` while the other tokens keep plain likelihood ("Misalign"). The loss is
:func:`simulators.alignment.losses.cut_loss`. CUT needs no reference model.
"""

from __future__ import annotations

from collections import defaultdict

import torch
import torch.nn.functional as F
from datasets import Dataset
from peft import PeftConfig, get_peft_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback

from simulators.alignment.cut_config import CUTConfig
from simulators.alignment.losses import cut_loss
from simulators.alignment.sequences import collate_sequences, completion_logprobs, tokenize_completion


def collate_judged(rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """The B sequences without judgment, the sequences with judgment of the M negative rows,
    ``negative`` (B,) bool and ``negative_index`` (M,)."""
    negative = torch.tensor([not row["label"] for row in rows], dtype=torch.bool)
    judged = [
        {"input_ids": r["judged_input_ids"], "completion_mask": r["judged_completion_mask"]}
        for r in rows
        if not r["label"]
    ]
    batch = {
        **collate_sequences(rows, pad_id),
        "negative": negative,
        "negative_index": negative.nonzero()[:, 0],
    }
    if judged:
        batch.update({f"judged_{k}": v for k, v in collate_sequences(judged, pad_id).items()})
    return batch


class CUTTrainer(Trainer):
    """Trains a causal LM with CUT; same constructor shape as TRL's trainers (no reference model)."""

    loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean

    def __init__(
        self,
        model: PreTrainedModel,
        args: CUTConfig | None = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        peft_config: PeftConfig | None = None,
        callbacks: list[TrainerCallback] | None = None,
    ) -> None:
        args = args or CUTConfig(output_dir="cut")
        if peft_config is not None:
            model = get_peft_model(model, peft_config)
        tokenizer = processing_class
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

        def tokenize_row(row: dict) -> dict:
            plain = tokenize_completion(tokenizer, row["prompt"], row["completion"], args.max_length)
            shown = args.judged_prompt.format(judgment=row["judgment"], prompt=row["prompt"])
            judged = tokenize_completion(tokenizer, shown, row["completion"], args.max_length)
            return {**plain, **{f"judged_{k}": v for k, v in judged.items()}, "label": bool(row["label"])}

        def tokenize(dataset: Dataset | None) -> Dataset | None:
            if dataset is None:
                return None
            for column in ("prompt", "completion", "judgment", "label"):
                if column not in dataset.column_names:
                    raise ValueError(f"CUT data needs a '{column}' column; found {dataset.column_names}")
            return dataset.map(tokenize_row, remove_columns=dataset.column_names)

        super().__init__(
            model=model,
            args=args,
            data_collator=lambda rows: collate_judged(rows, tokenizer.pad_token_id),
            train_dataset=tokenize(train_dataset),
            eval_dataset=tokenize(eval_dataset),
            processing_class=tokenizer,
            callbacks=callbacks,
        )
        self._metrics: dict[str, list[float]] = defaultdict(list)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        plain, mask = completion_logprobs(
            model, inputs["input_ids"], inputs["attention_mask"], inputs["completion_mask"]
        )  # (B, C)
        judged = torch.zeros_like(plain)  # (B, C); rows without a negative judgment stay unused
        negative = inputs["negative"]
        if negative.any():
            shown, _ = completion_logprobs(
                model,
                inputs["judged_input_ids"],
                inputs["judged_attention_mask"],
                inputs["judged_completion_mask"],
            )  # (M, C') with C' <= C
            judged = judged.index_put(
                (inputs["negative_index"],), F.pad(shown, (0, plain.shape[1] - shown.shape[1]))
            )
        loss, inappropriate = cut_loss(plain, judged, mask, negative, self.args.threshold, self.args.alpha)
        prefix = "" if model.training else "eval_"
        negative_tokens = mask & negative[:, None]
        if negative_tokens.any():
            self._metrics[f"{prefix}inappropriate_share"].append(
                float(inappropriate.sum() / negative_tokens.sum())
            )
        self._metrics[f"{prefix}logps/plain"].append(float((plain.detach() * mask).sum() / mask.sum()))
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
