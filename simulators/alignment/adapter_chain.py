"""LoRA adapters trained on top of other adapters ("SFT + DPO"): the base model with the earlier
adapters merged into its weights, then a new adapter.

``alignrec align train --init-adapter DIR`` merges ``DIR`` (and whatever ``DIR`` was itself trained on)
into the base model before the new LoRA is added, so the reference model of DPO, KTO, BCO and LiPO
(the model with its adapters disabled) is the merged model. The run's ``final`` folder keeps
``init_adapter.json`` naming ``DIR`` by absolute path; ``adapter_chain`` follows those files back to
the first adapter, and ``merge_adapters`` replays the chain on a freshly loaded base model.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import PreTrainedModel

INIT_FILE = "init_adapter.json"


def check_adapter(folder: Path) -> Path:
    """``folder`` as an absolute path; raises FileNotFoundError unless it holds a LoRA adapter."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such adapter folder; give the 'final' folder of an align run")
    if not (folder / "adapter_config.json").exists():
        raise FileNotFoundError(
            f"{folder}: no adapter_config.json; give the 'final' folder of `alignrec align train --out`"
        )
    return folder


def adapter_chain(adapter: Path) -> list[Path]:
    """The adapters to merge into the base model, first to last, ending with ``adapter`` itself."""
    chain = [check_adapter(adapter)]
    while (chain[0] / INIT_FILE).exists():
        record = chain[0] / INIT_FILE
        previous = check_adapter(Path(json.loads(record.read_text())["init_adapter"]))
        if previous in chain:
            raise ValueError(f"{record}: the chain of init adapters loops back to {previous}")
        chain.insert(0, previous)
    return chain


def merge_adapters(model: PreTrainedModel, adapters: list[Path]) -> PreTrainedModel:
    """``model`` with each LoRA adapter of ``adapters`` merged into its weights, in order."""
    from peft import PeftModel

    for adapter in adapters:
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return model


def record_init_adapter(final: Path, init_adapter: Path) -> Path:
    """Write ``init_adapter.json`` into the run's ``final`` folder: the adapter it was trained on."""
    path = Path(final) / INIT_FILE
    path.write_text(json.dumps({"init_adapter": str(check_adapter(init_adapter))}, indent=1) + "\n")
    return path
