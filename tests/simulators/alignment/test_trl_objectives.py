"""SFT, DPO and KTO are TRL's trainers: they take our preference data with LoRA and learn from it."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig
from tiny_models import char_tokenizer, tiny_llama
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer, SFTConfig, SFTTrainer

from recsys.synthetic import make_interactions
from simulators.preference_data import build_preferences, sft_view

COMMON = dict(
    max_steps=2,
    per_device_train_batch_size=4,
    learning_rate=5e-3,
    report_to="none",
    save_strategy="no",
    disable_tqdm=True,
    logging_steps=1,
    activation_checkpointing=False,
    bf16=False,
    dataloader_pin_memory=False,
)


@pytest.fixture(scope="module")
def data():
    log = make_interactions(num_users=8, num_items=30, events_per_user=6, seed=1)[0]
    texts = [f"m{i}" for i in range(30)]
    kwargs = dict(item_texts=texts, history=2, max_per_user=2, eval_fraction=0.25)
    return {
        "pairwise": build_preferences(log, "pairwise", **kwargs).train,
        "binary": build_preferences(log, "binary", **kwargs).train,
    }


@pytest.mark.parametrize(
    ("config", "trainer", "layout", "logged"),
    [
        (SFTConfig, SFTTrainer, "sft", "mean_token_accuracy"),
        (DPOConfig, DPOTrainer, "pairwise", "rewards/margins"),
        (KTOConfig, KTOTrainer, "binary", "rewards/chosen"),
    ],
)
def test_trl_trainer_steps_on_our_data(tmp_path, data, config, trainer, layout, logged):
    tokenizer = char_tokenizer()
    dataset = sft_view(data["pairwise"]) if layout == "sft" else data[layout]
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    run = trainer(
        model=tiny_llama(tokenizer),
        args=config(output_dir=str(tmp_path), **COMMON),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora,
    )
    before = {n: p.detach().clone() for n, p in run.model.named_parameters() if p.requires_grad}
    result = run.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    now = dict(run.model.named_parameters())
    moved = [n for n, value in before.items() if not torch.equal(value, now[n])]
    assert moved and all("lora" in n for n in moved)
    assert any(logged in entry for entry in run.state.log_history)
