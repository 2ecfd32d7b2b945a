"""A language-model user simulator: the choice is read from the options' likelihoods.

Each option's text (" Title", then eos) is scored as a completion of a prompt: log π(option | prompt)
per token, averaged over the option's tokens (so long titles are not penalised for their length),
plus an optional per-position offset (see ``simulators.users.calibration``), divided by a temperature
and softmaxed over the options. Nothing is generated.

The prompt is the alignment data's (``simulators.preference_data.choice_prompt``: persona, rated
history, the options shown, "Answer:"), so a model tuned with any objective of
``simulators.alignment`` is scored on the prompts it was trained on; ``history`` and ``title_chars``
shorten it (fewer, shorter history lines). With ``list_in_prompt=False`` the options are not listed:
every option is scored against the same prompt (persona, history, "Which one do you choose?"), so
the display order cannot pull the choice (no position bias by construction), and one user's option
scores can be cached and reused across lists.

Item prior (PMI): with ``prior_weight`` w > 0 (no-list prompt only) each option's score is
``score - w * prior(item)``, the prior being the same LM's score of the title under an empty history
and no persona (:meth:`LMUser.prior`, once per item): a title the LM finds likely after any history
(a short or generic one) is pulled down. On ML-100K protocol 1 (n = 5) w = 0.8, fitted on 2,400
training lists, raised the accuracy from 0.253 to 0.317 on 300 held-out lists
(``benchmarks/usersim_combined.py``, docs/simulation.md); on ML-1M the fitted weight is 0, so it is
a per-log setting; the default is 0 (no correction).

Speed: the prompt splits into the user's part (persona + history) and the list's part (the options
shown + the question). The user's part is run once per user and history and its KV cache kept
(``cache_users`` most recent users), the list's part is run on a copy of it, and its cache is then
repeated across the n options, which are scored together in one batched pass. The prompt's forward
pass computes logits for its last position only (``logits_to_keep=1``). Inputs go to the device of
the model's parameters (a GPU when the model was moved there); scores come back as numpy arrays.
"""

from __future__ import annotations

import copy
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from simulators.preference_data import choice_prompt, history_lines
from simulators.users.exposures import Exposure

QUESTION = "Which one do you choose?\nAnswer:"


def short_title(text: str, title_chars: int | None) -> str:
    """``text`` cut to ``title_chars`` characters with its "(year)" kept, or whole (None)."""
    if title_chars is None or len(text) <= title_chars:
        return text
    year = text[-6:] if re.fullmatch(r"\(\d{4}\)", text[-6:]) else ""
    return text[: max(title_chars - len(year), 1)].rstrip() + "…" + (" " + year if year else "")


def prompt_parts(
    exposure: Exposure,
    item_texts: Mapping[str, str],
    personas: Mapping[str, str] | None,
    list_in_prompt: bool = True,
    history: int = 10,
    title_chars: int | None = None,
) -> tuple[str, str]:
    """The simulator's prompt for ``exposure`` split into the user's part (persona, the last
    ``history`` rated titles, cut to ``title_chars``) and the list's part (the options shown and the
    question, or the question alone without ``list_in_prompt``); joined, the prompt :class:`LMUser`
    scores (and what tuning data for it should hold)."""
    events = exposure.history[-history:] if history else ()
    titles = [short_title(item_texts[i], title_chars) for i, _ in events]
    lines = history_lines(titles, [r for _, r in events])
    shown = [item_texts[o] for o in exposure.options] if list_in_prompt else None
    text = choice_prompt((personas or {}).get(exposure.user), lines, shown or ["-"])
    head, _, _ = text.partition("\nYou are shown: ")
    if not list_in_prompt:
        return head + "\n", QUESTION
    return head + "\n", text[len(head) + 1 :]


def check_prior_weight(prior_weight: float, list_in_prompt: bool) -> None:
    """Raise ``ValueError`` unless ``prior_weight`` is >= 0 and, when > 0, the prompt has no list
    (what :class:`LMUser` accepts; the CLI checks it before loading anything)."""
    if not prior_weight >= 0:  # also refuses NaN
        raise ValueError(f"prior_weight must be >= 0 (0: no item-prior correction), got {prior_weight}")
    if prior_weight > 0 and list_in_prompt:
        raise ValueError(
            "prior_weight > 0 needs list_in_prompt=False (--no-list-in-prompt): the item prior is a "
            "title's score under the no-list prompt; after a listed prompt the title is copied from the "
            "list (not measured)"
        )


class LMUser:
    """Choice probabilities from a causal LM's option likelihoods.

    Args:
        model: a Hugging Face causal LM (eval mode is set here).
        tokenizer: its tokenizer.
        item_texts: item id -> the text shown for it (e.g. "Toy Story (1995)").
        personas: user id -> persona text, when the data has demographics.
        temperature: divides the scores before the softmax.
        list_in_prompt: list the options in the prompt (the alignment prompt) or not.
        history: at most this many of the latest history events go into the prompt.
        title_chars: history titles longer than this are cut (the year kept), or None.
        position_offsets: (n,) added to the scores of each position (a calibration), or None.
        cache_users: how many users' prompt caches are kept.
        chunk: at most this many options are scored in one batched pass (memory: chunk x tokens x vocab).
        prior_weight: subtract this times each option's item prior (:meth:`prior`) from its score, a
            PMI correction; 0 (default) none, 0.8 fitted on ML-100K protocol 1. Without a list in the
            prompt only: after a listed prompt the title is copied from the list, and the prior that
            would match it depends on the list, not on the item alone (not measured).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        item_texts: Mapping[str, str],
        personas: Mapping[str, str] | None = None,
        temperature: float = 1.0,
        name: str = "lm",
        list_in_prompt: bool = True,
        history: int = 10,
        title_chars: int | None = None,
        position_offsets: np.ndarray | None = None,
        cache_users: int = 16,
        chunk: int = 64,
        prior_weight: float = 0.0,
    ) -> None:
        check_prior_weight(prior_weight, list_in_prompt)
        self.model, self.tokenizer = model.eval(), tokenizer
        self.device = next(model.parameters()).device
        self.item_texts, self.personas = item_texts, personas or {}
        self.temperature, self.name = temperature, name
        self.list_in_prompt, self.history, self.title_chars = list_in_prompt, history, title_chars
        self.position_offsets = position_offsets
        self.cache_users, self.chunk = cache_users, chunk
        self.prior_weight = prior_weight
        self._option_ids: dict[str, list[int]] = {}
        self._prefixes: OrderedDict[tuple, tuple[object, torch.Tensor]] = OrderedDict()
        self._scores: dict[tuple, float] = {}  # (user key, item) -> score, without a list in the prompt
        self._priors: dict[str, float] = {}  # item -> its score under an empty history (see prior)
        self._prior_prefix: tuple[object, torch.Tensor, int] | None = None

    # --- prompt text ------------------------------------------------------------------------------

    def _user_key(self, exposure: Exposure) -> tuple:
        return (exposure.user, exposure.history[-self.history :] if self.history else ())

    def parts(self, exposure: Exposure) -> tuple[str, str]:
        """The prompt split into the user's part (persona, history) and the list's part."""
        return prompt_parts(
            exposure, self.item_texts, self.personas, self.list_in_prompt, self.history, self.title_chars
        )

    def prompt(self, exposure: Exposure) -> str:
        return "".join(self.parts(exposure))

    # --- scoring ----------------------------------------------------------------------------------

    def _ids(self, item: str) -> list[int]:
        """Token ids of " <text>" + eos, cached per item (a catalog is scored again and again)."""
        if item not in self._option_ids:
            text_ids = self.tokenizer(" " + self.item_texts[item], add_special_tokens=False)["input_ids"]
            self._option_ids[item] = text_ids + [self.tokenizer.eos_token_id]
        return self._option_ids[item]

    def _run(self, ids: list[int], cache) -> tuple[object, torch.Tensor]:
        """Extend ``cache`` (or start one) with ``ids``; the cache and the last position's logits (1, V)."""
        ids = torch.tensor([ids], device=self.device)
        out = self.model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
        return out.cache, out.logits[:, -1]

    def _user_prefix(self, exposure: Exposure) -> tuple[object, torch.Tensor, int]:
        """The cached user part (its KV cache and last logits), computed once per user and history.
        Without a list in the prompt the question is part of it."""
        key = self._user_key(exposure)
        if key in self._prefixes:
            self._prefixes.move_to_end(key)
        else:
            head, tail = self.parts(exposure)
            ids = self.tokenizer(head + (tail if not self.list_in_prompt else ""))["input_ids"]
            self._prefixes[key] = (*self._run(ids, None), len(ids))
            if len(self._prefixes) > self.cache_users:
                self._prefixes.popitem(last=False)
        return self._prefixes[key]

    def _score_options(self, cache, first: torch.Tensor, length: int, items: Sequence[str]) -> np.ndarray:
        """(len(items),) mean log-prob per token of each item's text after a prompt of ``length``
        tokens whose cache is ``cache`` (not modified) and whose last logits are ``first`` (1, V);
        at most ``chunk`` items per batched pass."""
        if len(items) > self.chunk:
            parts = [items[k : k + self.chunk] for k in range(0, len(items), self.chunk)]
            return np.concatenate([self._score_options(cache, first, length, p) for p in parts])
        options = [self._ids(item) for item in items]
        n, width = len(options), max(len(o) for o in options)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([o + [pad] * (width - len(o)) for o in options], device=self.device)  # (n, L)
        mask = torch.tensor([[1] * len(o) + [0] * (width - len(o)) for o in options], device=self.device)
        cache = copy.deepcopy(cache)
        cache.batch_repeat_interleave(n)  # the prompt's keys/values, once per option
        attention = torch.cat([torch.ones(n, length, dtype=torch.long, device=self.device), mask], dim=1)
        logits = self.model(input_ids=ids[:, :-1], attention_mask=attention[:, :-1], cache=cache).logits
        predicting = torch.cat([first[:, None].expand(n, 1, -1), logits], dim=1)  # (n, L, V)
        logps = F.log_softmax(predicting.float(), dim=-1)
        logps = torch.gather(logps, 2, ids[:, :, None]).squeeze(2)  # (n, L)
        return ((logps * mask).sum(1) / mask.sum(1)).cpu().numpy()

    @torch.no_grad()
    def prior(self, items: Sequence[str]) -> np.ndarray:
        """(len(items),) each item's prior: the mean log-prob per token of its text after the no-list
        prompt with no persona and an empty history (the same for every user and every history and
        title setting). Computed once per item, the missing ones in one batched call, and kept."""
        if self._prior_prefix is None:
            empty = Exposure(user="", history=(), options=(), target=0)
            head, question = prompt_parts(empty, self.item_texts, None, list_in_prompt=False)
            ids = self.tokenizer(head + question)["input_ids"]
            self._prior_prefix = (*self._run(ids, None), len(ids))
        todo = [i for i in dict.fromkeys(items) if i not in self._priors]
        if todo:
            for item, score in zip(todo, self._score_options(*self._prior_prefix, todo), strict=True):
                self._priors[item] = float(score)
        return np.array([self._priors[i] for i in items])

    def option_scores(self, exposure: Exposure) -> np.ndarray:
        """(n,) mean log-prob per token of each option's text given the prompt (no offsets), less
        ``prior_weight`` times its :meth:`prior` when that is > 0."""
        scores = self._raw_scores(exposure)
        if self.prior_weight > 0:
            return scores - self.prior_weight * self.prior(exposure.options)
        return scores

    @torch.no_grad()
    def _raw_scores(self, exposure: Exposure) -> np.ndarray:
        cache, first, length = self._user_prefix(exposure)
        if not self.list_in_prompt:
            key = self._user_key(exposure)
            todo = [o for o in dict.fromkeys(exposure.options) if (key, o) not in self._scores]
            if todo:
                for item, score in zip(todo, self._score_options(cache, first, length, todo), strict=True):
                    self._scores[(key, item)] = float(score)
            return np.array([self._scores[(key, o)] for o in exposure.options])
        _, tail = self.parts(exposure)
        tail_ids = self.tokenizer(tail, add_special_tokens=False)["input_ids"]
        cache, first = self._run(tail_ids, copy.deepcopy(cache))
        return self._score_options(cache, first, length + len(tail_ids), exposure.options)

    def scores(self, exposures: Sequence[Exposure]) -> np.ndarray:
        """(B, n) option scores (mean token log-probs, less the weighted prior), lists of one length."""
        sizes = {len(e.options) for e in exposures}
        if len(sizes) != 1:
            raise ValueError(f"exposures: every list must have the same length, got sizes {sorted(sizes)}")
        return np.stack([self.option_scores(e) for e in exposures])

    def choice_probabilities(self, exposures: Sequence[Exposure]) -> np.ndarray:
        scores = self.scores(exposures)  # (B, n)
        if self.position_offsets is not None:
            if len(self.position_offsets) != scores.shape[1]:
                raise ValueError(
                    f"position_offsets has {len(self.position_offsets)} entries, lists have {scores.shape[1]}"
                )
            scores = scores + self.position_offsets
        scores = scores / self.temperature
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)


def quantize_int8(model: torch.nn.Module, keep: tuple[str, ...] = ()) -> torch.nn.Module:
    """The model with its ``nn.Linear`` layers dynamically quantised to int8 (weights int8,
    activations quantised per batch; ``torch.ao.quantization.quantize_dynamic``), except those whose
    module name ends with one of ``keep`` (e.g. ``("down_proj",)``), which stay float; CPU only."""
    from torch.ao.quantization import quantize_dynamic

    layers = {  # quantize_dynamic takes module names as well as types
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not name.endswith(tuple(keep))
    }
    return quantize_dynamic(model.eval(), layers, dtype=torch.qint8)


# What ``load_lm(int8=True)`` leaves float: on ML-100K (benchmarks/usersim.py, 300 lists) int8 with the
# MLP down projections float keeps the float model's accuracy (0.270 vs 0.253 at n = 5) at 2.4x its
# speed for new users; quantising them too is faster still but less accurate (0.247) and less faithful.
INT8_KEEP = ("down_proj",)


def load_lm(
    base: str, cache_dir: Path, adapter: Path | None = None, int8: bool = False, device: str | None = None
):
    """A base causal LM (``smollm2`` or a local folder), optionally with a LoRA adapter folder written
    by ``alignrec align train`` (``<run>/final``) merged into its weights, then either int8-quantised
    for the CPU (``INT8_KEEP`` layers stay float) or moved to ``device`` (e.g. ``"cuda"``).
    An adapter trained with ``--init-adapter`` brings its chain: the earlier adapters are merged first.

    Returns the model and its tokenizer.
    """
    from simulators.alignment.base_models import load_base_model

    if int8 and device not in (None, "cpu"):
        raise ValueError(f"int8 dynamic quantisation runs on the CPU only, not on {device!r}")
    model, tokenizer, _ = load_base_model(base, cache_dir)
    if adapter is not None:
        from simulators.alignment.adapter_chain import adapter_chain, merge_adapters

        model = merge_adapters(model, adapter_chain(Path(adapter)))
    if int8:
        return quantize_int8(model, keep=INT8_KEEP), tokenizer
    return (model.to(device) if device else model).eval(), tokenizer
