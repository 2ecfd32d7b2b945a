"""Fixtures: a tiny random llama and its character tokenizer (see tiny_models.py)."""

from __future__ import annotations

import pytest
from tiny_models import char_tokenizer, tiny_llama
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast


@pytest.fixture
def tokenizer() -> PreTrainedTokenizerFast:
    return char_tokenizer()


@pytest.fixture
def model(tokenizer) -> LlamaForCausalLM:
    return tiny_llama(tokenizer)
