"""BCOTrainer on a tiny random llama: it trains, δ tracks the rewards, δ survives a resume."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from datasets import Dataset
from peft import LoraConfig
from tiny_models import tiny_llama

from simulators.alignment.bco_config import BCOConfig
from simulators.alignment.bco_trainer import SHIFT_FILE, BCOTrainer


def binary_data() -> Dataset:
    rows = [
        {"prompt": f"user {u} picks: ", "completion": item, "label": item == "ab"}
        for u in range(4)
        for item in ("ab", "cd")
    ]
    return Dataset.from_list(rows)


def config(tmp_path, **overrides) -> BCOConfig:
    values = dict(
        output_dir=str(tmp_path),
        max_steps=3,
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        logging_steps=1,
        beta=0.5,
        dataloader_pin_memory=False,
    )
    return BCOConfig(**{**values, **overrides})


def changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> list[str]:
    now = dict(model.named_parameters())
    return [name for name, value in before.items() if not torch.equal(value, now[name])]


@pytest.mark.parametrize("lora", [True, False])
def test_a_step_changes_the_trainable_parameters(tmp_path, model, tokenizer, lora):
    peft_config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]) if lora else None
    ref_model = None if lora else copy.deepcopy(model).eval()
    trainer = BCOTrainer(
        model, ref_model, config(tmp_path), binary_data(), binary_data(), tokenizer, peft_config
    )
    trainable = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    result = trainer.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    moved = changed(trainable, trainer.model)
    assert moved and (not lora or all("lora" in name for name in moved))
    assert trainer.reward_shift.count == 3 * 4  # δ saw every training reward
    logged = [entry for entry in trainer.state.log_history if "rewards/desirable" in entry]
    assert logged and all("delta" in entry for entry in logged)
    metrics = trainer.evaluate()
    assert torch.isfinite(torch.tensor(metrics["eval_loss"])) and "eval_accuracy" in metrics


def test_the_reward_shift_is_checkpointed_and_restored(tmp_path, model, tokenizer):
    peft_config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    args = config(tmp_path, save_strategy="steps", save_steps=2, max_steps=2)
    first = BCOTrainer(model, None, args, binary_data(), None, tokenizer, peft_config)
    first.train()
    saved = json.loads((tmp_path / "checkpoint-2" / SHIFT_FILE).read_text())
    assert saved == first.reward_shift.state() and saved["count"] == 8
    resumed = BCOTrainer(
        tiny_llama(tokenizer),
        None,
        config(tmp_path, max_steps=3, save_strategy="no"),
        binary_data(),
        None,
        tokenizer,
        peft_config,
    )
    resumed.train(resume_from_checkpoint=True)
    assert resumed.state.global_step == 3 and resumed.reward_shift.count == 12


def test_without_lora_a_reference_is_required(tmp_path, model, tokenizer):
    with pytest.raises(ValueError, match="reference is needed"):
        BCOTrainer(model, None, config(tmp_path), binary_data(), None, tokenizer)
