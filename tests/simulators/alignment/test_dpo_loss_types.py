"""DPO's IPO and hinge options are TRL's: the loss it reports on a fixed pair is the formula computed
by hand from the rewards it logs at the same step."""

from __future__ import annotations

import math

import pytest
from datasets import Dataset
from peft import LoraConfig
from tiny_models import char_tokenizer, tiny_llama
from trl import DPOConfig, DPOTrainer

BETA = 0.2
PAIR = {"prompt": "Which one? Answer:", "chosen": " apple pie", "rejected": " kale"}


def by_hand(loss_type: str, chosen: float, rejected: float, lengths: tuple[int, int]) -> float:
    """The loss from the logged rewards r = β·log(π/π_ref) of the chosen and the rejected completion."""
    margin = chosen - rejected  # β·Δ
    if loss_type == "sigmoid":
        return -math.log(1 / (1 + math.exp(-margin)))
    if loss_type == "hinge":
        return max(0.0, 1 - margin)
    # IPO (TRL's, τ = β): each log-ratio averaged over its completion tokens, (Δ/len − 1/(2τ))².
    delta = chosen / BETA / lengths[0] - rejected / BETA / lengths[1]
    return (delta - 1 / (2 * BETA)) ** 2


def train_on_one_pair(tmp_path, loss_type: str) -> DPOTrainer:
    tokenizer = char_tokenizer()
    args = DPOConfig(
        output_dir=str(tmp_path),
        loss_type=loss_type,
        beta=BETA,
        max_steps=4,
        per_device_train_batch_size=1,
        learning_rate=0.05,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        activation_checkpointing=False,
        bf16=False,
        dataloader_pin_memory=False,
    )
    trainer = DPOTrainer(
        model=tiny_llama(tokenizer),
        args=args,
        train_dataset=Dataset.from_list([PAIR]),  # every step sees the same batch
        processing_class=tokenizer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    trainer.train()
    return trainer


@pytest.mark.parametrize("loss_type", ["ipo", "hinge", "sigmoid"])
def test_reported_loss_is_the_formula_of_the_logged_rewards(tmp_path, loss_type):
    trainer = train_on_one_pair(tmp_path, loss_type)
    assert trainer.args.loss_type == [loss_type]
    row = trainer.train_dataset[0]
    lengths = len(row["chosen_ids"]), len(row["rejected_ids"])  # completion tokens, eos included
    assert lengths == (len(PAIR["chosen"]) + 1, len(PAIR["rejected"]) + 1)  # one token per character
    logs = [entry for entry in trainer.state.log_history if "rewards/margins" in entry]
    assert [entry["step"] for entry in logs] == [1, 2, 3, 4]
    for entry in logs:
        chosen, rejected, margin = (entry[f"rewards/{k}"] for k in ("chosen", "rejected", "margins"))
        assert margin == pytest.approx(chosen - rejected, abs=1e-6)
        expected = by_hand(loss_type, chosen, rejected, lengths)
        assert entry["loss"] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    # Step 1 runs with the fresh (zero) LoRA update: Δ = 0, so the losses are ln 2, 1 and (1/(2τ))².
    # Later steps have moved the adapter, so the check above is not only that trivial point.
    assert logs[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert logs[0]["loss"] == pytest.approx({"sigmoid": math.log(2), "hinge": 1.0, "ipo": 6.25}[loss_type])
    assert abs(logs[-1]["rewards/margins"]) > 1e-3
