"""A language-model user simulator: the choice is read from the options' likelihoods.

The prompt is the one the alignment data uses (``simulators.preference_data.choice_prompt``: persona,
recent history with ratings, the options shown, "Answer:"), so a model tuned with any objective of
``simulators.alignment`` is scored on the prompts it was trained on. Each option's text (" Title",
then eos) is scored as a completion: log π(option | prompt) per token, averaged over the option's
tokens (so long titles are not penalised for their length), then softmaxed over the options.

Speed: the prompt is run once and its KV cache is repeated across the n options, which are scored
together in one batched forward pass; nothing is generated. Reading letters ("A", "B", ...) would be
cheaper still, but small LMs answer "A" whatever is shown (pure position bias); scoring the titles
makes the display order irrelevant to the score except through the prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from simulators.preference_data import choice_prompt, history_lines
from simulators.users.exposures import Exposure


class LMUser:
    """Choice probabilities from a causal LM's option likelihoods.

    Args:
        model: a Hugging Face causal LM (eval mode is set here).
        tokenizer: its tokenizer.
        item_texts: item id -> the text shown for it (e.g. "Toy Story (1995)").
        personas: user id -> persona text, when the data has demographics.
        temperature: divides the mean log-probs before the softmax.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        item_texts: Mapping[str, str],
        personas: Mapping[str, str] | None = None,
        temperature: float = 1.0,
        name: str = "lm",
    ) -> None:
        self.model, self.tokenizer = model.eval(), tokenizer
        self.item_texts, self.personas = item_texts, personas or {}
        self.temperature, self.name = temperature, name
        self._option_ids: dict[str, list[int]] = {}

    def prompt(self, exposure: Exposure) -> str:
        texts = [self.item_texts[item] for item, _ in exposure.history]
        ratings = [rating for _, rating in exposure.history]
        history = history_lines(texts, ratings)
        shown = [self.item_texts[o] for o in exposure.options]
        return choice_prompt(self.personas.get(exposure.user), history, shown)

    def _ids(self, item: str) -> list[int]:
        """Token ids of " <text>" + eos, cached per item (a catalog is scored again and again)."""
        if item not in self._option_ids:
            text_ids = self.tokenizer(" " + self.item_texts[item], add_special_tokens=False)["input_ids"]
            self._option_ids[item] = text_ids + [self.tokenizer.eos_token_id]
        return self._option_ids[item]

    @torch.no_grad()
    def option_scores(self, exposure: Exposure) -> np.ndarray:
        """(n,) mean log-prob per token of each option's text given the prompt."""
        prefix = torch.tensor([self.tokenizer(self.prompt(exposure))["input_ids"]])  # (1, P)
        out = self.model(input_ids=prefix, use_cache=True)
        cache, first = out.cache, out.logits[:, -1:]  # first: (1, 1, V), predicts token 0
        options = [self._ids(item) for item in exposure.options]
        n, width = len(options), max(len(o) for o in options)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([o + [pad] * (width - len(o)) for o in options])  # (n, L)
        mask = torch.tensor([[1] * len(o) + [0] * (width - len(o)) for o in options])  # (n, L)
        cache.batch_repeat_interleave(n)  # the prompt's keys/values, once per option
        attention = torch.cat([torch.ones(n, prefix.shape[1], dtype=torch.long), mask], dim=1)
        logits = self.model(input_ids=ids, attention_mask=attention, cache=cache).logits  # (n, L, V)
        predicting = torch.cat([first.expand(n, 1, -1), logits[:, :-1]], dim=1)  # (n, L, V), one per token
        logps = F.log_softmax(predicting.float(), dim=-1)
        logps = torch.gather(logps, 2, ids[:, :, None]).squeeze(2)  # (n, L)
        return ((logps * mask).sum(1) / mask.sum(1)).numpy()

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        sizes = {len(e.options) for e in exposures}
        if len(sizes) != 1:
            raise ValueError(f"exposures: every list must have the same length, got sizes {sorted(sizes)}")
        scores = np.stack([self.option_scores(e) for e in exposures]) / self.temperature  # (B, n)
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)
