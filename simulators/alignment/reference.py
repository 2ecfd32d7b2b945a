"""The reference model of BCO and LiPO: a frozen copy, or the LoRA model with its adapters off."""

from __future__ import annotations

import contextlib

import torch
from peft import PeftConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel

from simulators.alignment.sequences import sequence_logprobs


def with_reference(
    model: PreTrainedModel,
    ref_model: PreTrainedModel | None,
    peft_config: PeftConfig | None,
) -> tuple[PreTrainedModel | PeftModel, PreTrainedModel | None]:
    """The model to train (wrapped in LoRA when ``peft_config`` is given) and its reference.

    With LoRA the reference is the base model with the adapters disabled, so no copy is kept and
    ``ref_model`` must be None; without LoRA a frozen ``ref_model`` is required.
    """
    if peft_config is not None:
        if ref_model is not None:
            raise ValueError(
                "with a peft_config the reference is the base model (adapters off): pass no ref_model"
            )
        return get_peft_model(model, peft_config), None
    if isinstance(model, PeftModel):
        if ref_model is not None:
            raise ValueError("a PeftModel is its own reference (adapters off): pass no ref_model")
        return model, None
    if ref_model is None:
        raise ValueError("without LoRA a reference is needed: pass ref_model=copy.deepcopy(model).eval()")
    ref_model.requires_grad_(False).eval()
    return model, ref_model


def reference_logprobs(
    model: torch.nn.Module, ref_model: torch.nn.Module | None, batch: dict[str, torch.Tensor]
) -> torch.Tensor:
    """(B,) log π_ref(completion | prompt), without gradient."""
    reference = model if ref_model is None else ref_model
    adapters_off = model.disable_adapter() if ref_model is None else contextlib.nullcontext()
    with torch.no_grad(), adapters_off:
        return sequence_logprobs(
            reference, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
        )
