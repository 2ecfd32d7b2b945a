"""LiPOTrainer and CUTTrainer on a tiny random llama."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from peft import LoraConfig

from simulators.alignment.cut_config import CUTConfig
from simulators.alignment.cut_trainer import CUTTrainer, collate_judged
from simulators.alignment.lipo_config import LiPOConfig
from simulators.alignment.lipo_trainer import LiPOTrainer, collate_lists
from simulators.alignment.losses import cut_token_mask
from simulators.alignment.sequences import completion_logprobs

LORA = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
COMMON = dict(
    max_steps=2,
    per_device_train_batch_size=2,
    learning_rate=5e-3,
    report_to="none",
    save_strategy="no",
    disable_tqdm=True,
    logging_steps=1,
    dataloader_pin_memory=False,
)


def list_data() -> Dataset:
    return Dataset.from_list(
        [
            {"prompt": "pick: ", "completions": ["ab", "cd", "e"], "relevance": [5.0, 3.0, 1.0]},
            {"prompt": "again: ", "completions": ["x", "yz"], "relevance": [1.0, 4.0]},
            {"prompt": "more: ", "completions": ["pq", "r", "st", "u"], "relevance": [2.0, 2.0, 5.0, 1.0]},
        ]
    )


def judged_data() -> Dataset:
    return Dataset.from_list(
        [
            {"prompt": "p1: ", "completion": "abc", "judgment": "bad: abc is wrong", "label": False},
            {"prompt": "p2: ", "completion": "de", "judgment": "good", "label": True},
            {"prompt": "p3: ", "completion": "fgh", "judgment": "bad: too long", "label": False},
            {"prompt": "p4: ", "completion": "i", "judgment": "great", "label": True},
        ]
    )


def changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> list[str]:
    now = dict(model.named_parameters())
    return [name for name, value in before.items() if not torch.equal(value, now[name])]


@pytest.mark.parametrize("lora", [True, False])
def test_lipo_step_changes_parameters(tmp_path, model, tokenizer, lora):
    args = LiPOConfig(output_dir=str(tmp_path), beta=0.5, **COMMON)
    ref_model = None if lora else copy.deepcopy(model).eval()
    trainer = LiPOTrainer(model, ref_model, args, list_data(), list_data(), tokenizer, LORA if lora else None)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    result = trainer.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert changed(before, trainer.model)
    metrics = trainer.evaluate()
    assert 0 <= metrics["eval_pair_accuracy"] <= 1


def test_lipo_collator_places_each_completion_in_its_list(tokenizer):
    from simulators.alignment.sequences import tokenize_completion

    rows = []
    for row in list_data():
        pieces = [tokenize_completion(tokenizer, row["prompt"], c, None) for c in row["completions"]]
        rows.append(
            {
                "input_ids": [p["input_ids"] for p in pieces],
                "completion_mask": [p["completion_mask"] for p in pieces],
                "relevance": row["relevance"],
            }
        )
    batch = collate_lists(rows, tokenizer.pad_token_id)
    assert batch["input_ids"].shape[0] == 3 + 2 + 4
    assert batch["list_index"].tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2]
    assert batch["position"].tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 3]
    assert batch["list_mask"].sum(dim=1).tolist() == [3, 2, 4]
    assert batch["relevance"][1].tolist() == [1.0, 4.0, 0.0, 0.0]


def test_cut_step_changes_parameters(tmp_path, model, tokenizer):
    args = CUTConfig(output_dir=str(tmp_path), threshold=1.05, alpha=0.5, **COMMON)
    trainer = CUTTrainer(model, args, judged_data(), judged_data(), tokenizer, LORA)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    result = trainer.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert changed(before, trainer.model)
    assert "eval_logps/plain" in trainer.evaluate()


def test_cut_masks_compare_the_same_completion_tokens_with_and_without_the_judgment(
    tmp_path, model, tokenizer
):
    """The aligned per-token log-probs equal the ones read off each full sequence by hand."""
    args = CUTConfig(output_dir=str(tmp_path), threshold=1.1, report_to="none")
    trainer = CUTTrainer(model, args, judged_data(), None, tokenizer)
    rows = [trainer.train_dataset[i] for i in range(4)]
    batch = collate_judged(rows, tokenizer.pad_token_id)
    model.eval()
    with torch.no_grad():
        plain, mask = completion_logprobs(
            model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
        )
        shown, _ = completion_logprobs(
            model, batch["judged_input_ids"], batch["judged_attention_mask"], batch["judged_completion_mask"]
        )
    assert batch["negative_index"].tolist() == [0, 2]
    for m, row_index in enumerate([0, 2]):
        example = judged_data()[row_index]
        completion = [
            *tokenizer(example["completion"], add_special_tokens=False)["input_ids"],
            tokenizer.eos_token_id,
        ]
        by_hand = []
        for prompt in (
            example["prompt"],
            args.judged_prompt.format(judgment=example["judgment"], prompt=example["prompt"]),
        ):
            ids = [*tokenizer(prompt)["input_ids"], *completion]
            with torch.no_grad():
                logps = F.log_softmax(model(torch.tensor([ids])).logits[0], dim=-1)  # (T, V)
            start = len(ids) - len(completion)
            by_hand.append(torch.stack([logps[start + t - 1, tok] for t, tok in enumerate(completion)]))
        n = len(completion)
        assert mask[row_index].sum() == n
        assert torch.allclose(plain[row_index, :n], by_hand[0], atol=1e-5)
        assert torch.allclose(shown[m, :n], by_hand[1], atol=1e-5)
        expected = (by_hand[1] - by_hand[0]).exp() > 1.1  # p rises by more than λ once the judgment is shown
        judged = torch.zeros_like(plain)
        judged[row_index, : shown.shape[1]] = shown[m]
        got = cut_token_mask(plain, judged, mask & batch["negative"][:, None], 1.1)[row_index, :n]
        assert got.tolist() == expected.tolist()
