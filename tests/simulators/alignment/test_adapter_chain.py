"""SFT, then DPO on top of it (``alignrec align train --init-adapter``), with a tiny llama: the
reference is the merged SFT model, and ``load_lm`` replays the chain."""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftModel
from tiny_models import char_tokenizer, tiny_llama
from transformers import AutoModelForCausalLM
from typer.testing import CliRunner

from alignrec.commands.align import app
from recsys.synthetic import make_interactions
from simulators.alignment.adapter_chain import INIT_FILE, adapter_chain
from simulators.users.lm import load_lm

runner = CliRunner()
FAST = ["--max-steps", "2", "--batch-size", "2", "--threads", "1", "--learning-rate", "0.05", "--no-track"]
FAST += ["--set", "max_length=160", "--set", "disable_tqdm=true", "--set", "logging_steps=1"]
FAST += ["--set", "save_steps=2"]


def train(workspace, objective: str, out, *extra: str):
    args = ["train", "--objective", objective, "--data", str(workspace / "pairwise")]
    args += ["--base-model", str(workspace / "model"), "--out", str(out), *FAST, *extra]
    return runner.invoke(app, args)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    tokenizer = char_tokenizer()
    tiny_llama(tokenizer).save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    log = make_interactions(num_users=10, num_items=20, events_per_user=5, seed=3)[0]
    log.to_frame().to_csv(root / "log.csv", index=False)
    built = runner.invoke(
        app,
        ["build", "--data", str(root / "log.csv"), "--out", str(root / "pairwise")]
        + ["--history", "2", "--max-per-user", "2", "--eval-fraction", "0.2"],
    )
    assert built.exit_code == 0, built.output
    sft = train(root, "sft", root / "sft")
    assert sft.exit_code == 0, sft.output
    dpo = train(root, "dpo", root / "dpo", "--init-adapter", str(root / "sft" / "final"))
    assert dpo.exit_code == 0, dpo.output
    return root


def logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(input_ids=ids).logits


def test_the_final_folder_names_its_init_adapter(runs):
    record = json.loads((runs / "dpo" / "final" / INIT_FILE).read_text())
    assert record["init_adapter"] == str((runs / "sft" / "final").resolve())
    assert not (runs / "sft" / "final" / INIT_FILE).exists()
    assert adapter_chain(runs / "dpo" / "final") == [(runs / s / "final").resolve() for s in ("sft", "dpo")]


def test_the_reference_is_the_merged_sft_model(runs):
    state = json.loads((runs / "dpo" / "checkpoint-2" / "trainer_state.json").read_text())
    first = next(entry for entry in state["log_history"] if "loss" in entry)
    # At step 1 the new LoRA is still zero, so the policy is the merged SFT model; a zero margin means
    # the reference is that model too (the base model would give other log-ratios, checked below).
    assert first["rewards/margins"] == pytest.approx(0.0, abs=1e-6)


def test_load_lm_merges_the_chain_as_by_hand(runs):
    ids = torch.tensor([[5, 17, 40, 23, 61, 12, 9, 33]])
    base = runs / "model"
    chained, _ = load_lm(str(base), runs / "cache", adapter=runs / "dpo" / "final")
    by_hand = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    by_hand = PeftModel.from_pretrained(by_hand, str(runs / "sft" / "final")).merge_and_unload()
    sft_only = logits(by_hand, ids)
    by_hand = PeftModel.from_pretrained(by_hand, str(runs / "dpo" / "final"))  # DPO's LoRA left unmerged
    expected = logits(by_hand, ids)
    plain, _ = load_lm(str(base), runs / "cache")
    assert torch.allclose(logits(chained, ids), expected, atol=1e-5)
    assert not torch.allclose(sft_only, logits(plain, ids), atol=1e-3)  # SFT moved the model
    assert not torch.allclose(expected, sft_only, atol=1e-3)  # and DPO moved it again


def test_a_missing_init_adapter_fails_before_training(runs, tmp_path):
    result = train(runs, "dpo", tmp_path / "run", "--init-adapter", str(tmp_path / "nowhere"))
    assert result.exit_code != 0 and "no such adapter folder" in str(result.exception)
    assert not (tmp_path / "run").exists()
    result = train(runs, "dpo", tmp_path / "run", "--init-adapter", str(runs / "sft"))  # the run, not final
    assert result.exit_code != 0 and "no adapter_config.json" in str(result.exception)


def test_a_broken_chain_names_the_record(runs, tmp_path):
    moved = tmp_path / "final"
    moved.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (moved / name).write_bytes((runs / "dpo" / "final" / name).read_bytes())
    (moved / INIT_FILE).write_text(json.dumps({"init_adapter": str(tmp_path / "gone")}))
    with pytest.raises(FileNotFoundError, match="gone: no such adapter folder"):
        load_lm(str(runs / "model"), runs / "cache", adapter=moved)
