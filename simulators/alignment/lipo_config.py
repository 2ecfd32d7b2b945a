"""Configuration of :class:`simulators.alignment.lipo_trainer.LiPOTrainer`."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments


@dataclass
class LiPOConfig(TrainingArguments):
    """LiPO-λ's hyperparameters on top of ``transformers.TrainingArguments``."""

    beta: float = field(
        default=0.1, metadata={"help": "Score scale β in s_i = β·log(π(y_i|x)/π_ref(y_i|x))."}
    )
    max_length: int | None = field(
        default=512,
        metadata={"help": "Longest prompt + completion in tokens; the prompt's start is cut first."},
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep the tokenized columns the collator needs (do not change)."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every X update steps."})
