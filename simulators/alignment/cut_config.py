"""Configuration of :class:`simulators.alignment.cut_trainer.CUTTrainer`."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments


@dataclass
class CUTConfig(TrainingArguments):
    """CUT's hyperparameters on top of ``transformers.TrainingArguments``."""

    threshold: float = field(
        default=1.2,
        metadata={
            "help": "λ: a token is inappropriate when showing the judgment raises its probability by more "
            "than this factor (the paper uses about 1.1-1.2)."
        },
    )
    alpha: float = field(
        default=1.0, metadata={"help": "α, the weight of the unlikelihood term −α·log(1 − p)."}
    )
    judged_prompt: str = field(
        default="A judgment of the answer below: {judgment}\n{prompt}",
        metadata={"help": "How the judgment is shown: a template with {judgment} and {prompt}."},
    )
    max_length: int | None = field(
        default=512,
        metadata={"help": "Longest prompt + completion in tokens; the prompt's start is cut first."},
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep the tokenized columns the collator needs (do not change)."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every X update steps."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if "{judgment}" not in self.judged_prompt or "{prompt}" not in self.judged_prompt:
            raise ValueError(
                f"judged_prompt must contain {{judgment}} and {{prompt}}: {self.judged_prompt!r}"
            )
        if self.threshold <= 1:
            raise ValueError(f"threshold λ must exceed 1, got {self.threshold}")
