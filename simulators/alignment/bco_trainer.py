"""BCO: Binary Classifier Optimization (Jung et al., 2024) on unpaired desirable/undesirable data.

The policy's implicit reward ``r = β·log(π(y|x)/π_ref(y|x))`` is trained as the logit of a binary
classifier: ``−log σ(r − δ)`` for desirable and ``−log σ(−(r − δ))`` for undesirable completions,
with δ the running mean of all rewards seen in training (the paper's reward shift). Data: TRL's
unpaired layout, ``prompt, completion, label`` (what KTO reads). TRL 1.16's ``bco_pair`` DPO loss is
a different thing: it needs pairs and keeps no δ.

δ is saved with every checkpoint (``reward_shift.json``) and restored on resume.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import torch
from datasets import Dataset
from peft import PeftConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from simulators.alignment.bco_config import BCOConfig
from simulators.alignment.losses import RewardShift, bco_loss, implicit_rewards
from simulators.alignment.reference import reference_logprobs, with_reference
from simulators.alignment.sequences import collate_sequences, sequence_logprobs, tokenize_completion

SHIFT_FILE = "reward_shift.json"


class BCOTrainer(Trainer):
    """Trains a causal LM with the BCO loss; same constructor shape as TRL's ``KTOTrainer``."""

    loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean

    def __init__(
        self,
        model: PreTrainedModel,
        ref_model: PreTrainedModel | None = None,
        args: BCOConfig | None = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        peft_config: PeftConfig | None = None,
        callbacks: list[TrainerCallback] | None = None,
    ) -> None:
        args = args or BCOConfig(output_dir="bco")
        model, self.ref_model = with_reference(model, ref_model, peft_config)
        tokenizer = processing_class
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

        def tokenize(dataset: Dataset | None) -> Dataset | None:
            if dataset is None:
                return None
            for column in ("prompt", "completion", "label"):
                if column not in dataset.column_names:
                    raise ValueError(f"BCO data needs a '{column}' column; found {dataset.column_names}")
            return dataset.map(
                lambda row: {
                    **tokenize_completion(tokenizer, row["prompt"], row["completion"], args.max_length),
                    "label": row["label"],
                },
                remove_columns=dataset.column_names,
            )

        super().__init__(
            model=model,
            args=args,
            data_collator=lambda rows: {
                **collate_sequences(rows, tokenizer.pad_token_id),
                "label": torch.tensor([r["label"] for r in rows], dtype=torch.bool),
            },
            train_dataset=tokenize(train_dataset),
            eval_dataset=tokenize(eval_dataset),
            processing_class=tokenizer,
            callbacks=callbacks,
        )
        if self.ref_model is not None:
            self.ref_model.to(self.args.device)
        self.reward_shift = RewardShift()
        self._metrics: dict[str, list[float]] = defaultdict(list)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        policy = sequence_logprobs(
            model, inputs["input_ids"], inputs["attention_mask"], inputs["completion_mask"]
        )
        ref = reference_logprobs(model, self.ref_model, inputs)  # (B,)
        rewards = implicit_rewards(policy, ref, self.args.beta).detach()  # (B,)
        # δ moves only in training; evaluation reads the δ training reached.
        delta = self.reward_shift.update(rewards) if model.training else self.reward_shift.mean
        loss, _ = bco_loss(policy, ref, inputs["label"], self.args.beta, delta)
        prefix = "" if model.training else "eval_"
        desirable = inputs["label"]
        self._metrics[f"{prefix}rewards/desirable"].extend(rewards[desirable].tolist())
        self._metrics[f"{prefix}rewards/undesirable"].extend(rewards[~desirable].tolist())
        self._metrics[f"{prefix}accuracy"].extend(((rewards > delta) == desirable).float().tolist())
        self._metrics[f"{prefix}delta"].append(delta)
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

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call)
        path = Path(output_dir or self.args.output_dir)
        (path / SHIFT_FILE).write_text(json.dumps(self.reward_shift.state()))

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs):
        if resume_from_checkpoint is True:
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise ValueError(f"no checkpoint to resume from in {self.args.output_dir}")
        if resume_from_checkpoint:
            saved = Path(resume_from_checkpoint) / SHIFT_FILE
            self.reward_shift.load_state(json.loads(saved.read_text()))
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
