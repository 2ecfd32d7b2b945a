"""Titles and descriptions of the items creators make: a seeded template writer (the default) and an
instruct-LM writer (the optional slow path).

Both answer ``write(genres, creators, styles, rng) -> [(title, description), ...]``: per new item,
its genre's name, its creator's name and the creator's own other tags (its topics' top tags beside
the genre), and a generator that drives every seeded choice. The item's text as an encoder reads
it is :func:`item_text` (``"title. description"``); a catalog artist's is :func:`catalog_text`
(``"name. tag, tag, tag"``), so new items and the catalog are embedded alike.

- :class:`TemplateWriter`: a title from a few patterns over a small word list (some with the genre),
  and one sentence that always names the genre, the creator, its styles and a seeded theme.
  Thousands of items a second.
- :class:`LMWriter`: the LM invents the title from the genre, the creator and a seeded theme; the
  description is the template's. Decoding is greedy (no sampling, so no process-wide torch seed is
  touched; variety comes from the seeded theme), batched over the round's items with left padding,
  the answer prefilled with ``Title: "`` so the model writes the title and closes the quote, and at
  most ``max_new_tokens`` tokens. On the 2-core dev machine SmolLM2-135M-Instruct writes a few
  titles a second on one thread (``benchmarks/creators.py --lm-titles`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

ADJECTIVES = (
    "quiet", "electric", "golden", "broken", "midnight", "velvet", "paper", "restless", "hollow",
    "silver", "burning", "distant", "neon", "gentle", "wild", "frozen", "secret", "endless",
)  # fmt: skip
NOUNS = (
    "river", "signal", "garden", "mirror", "highway", "echo", "harbour", "letters", "skyline",
    "static", "orchard", "engine", "lanterns", "tide", "window", "horizon", "circuit", "shadows",
)  # fmt: skip
THEMES = (
    "rain", "a long drive", "summer", "an old house", "leaving home", "the city at night",
    "a comeback", "first love", "the sea", "a lost friend", "winter", "dancing alone",
    "a small town", "the future", "an argument", "morning light",
)  # fmt: skip
MOODS = ("slow-burning", "upbeat", "brooding", "bright", "hypnotic", "raw", "dreamy", "driving")


class Writer(Protocol):
    def write(
        self,
        genres: Sequence[str],
        creators: Sequence[str],
        styles: Sequence[Sequence[str]],
        rng: np.random.Generator,
    ) -> list[tuple[str, str]]: ...


def item_text(title: str, description: str) -> str:
    """The text of a new item as the encoder reads it."""
    return f"{title}. {description}"


def catalog_text(name: str, tags: Sequence[str]) -> str:
    """The text of a catalog artist as the encoder reads it: its name and its top tags."""
    return f"{name}. {', '.join(tags)}" if tags else name


def top_tags(weights: np.ndarray, names: Sequence[str], top: int, skip: int | None = None) -> list[str]:
    """The names of the ``top`` largest entries of ``weights`` (G,) that are > 0, ``skip`` left out."""
    order = [int(g) for g in np.argsort(-weights, kind="stable") if weights[g] > 0 and g != skip]
    return [names[g] for g in order[:top]]


def _pick(rng: np.random.Generator, words: Sequence[str]) -> str:
    return words[int(rng.integers(len(words)))]


def _title_case(text: str) -> str:
    """Each word's first letter upper-cased (after any opening bracket), small words after the first
    kept lower-case."""
    small = {"of", "the", "in", "on", "and", "a", "for"}
    words = text.split()
    out = []
    for k, word in enumerate(words):
        lead = len(word) - len(word.lstrip("("))
        out.append(
            word if (k and word in small) else word[:lead] + word[lead : lead + 1].upper() + word[lead + 1 :]
        )
    return " ".join(out)


class TemplateWriter:
    """Seeded titles and one-sentence descriptions from the genre, the creator and its styles."""

    def title(self, genre: str, rng: np.random.Generator) -> str:
        pattern = int(rng.integers(5))
        adjective, noun, other = _pick(rng, ADJECTIVES), _pick(rng, NOUNS), _pick(rng, NOUNS)
        if pattern == 0:
            return _title_case(f"{adjective} {noun}")
        if pattern == 1:
            return _title_case(f"{noun} of the {other}")
        if pattern == 2:
            return _title_case(f"{genre} {noun}")
        if pattern == 3:
            return _title_case(f"the {adjective} {noun}")
        return _title_case(f"{noun} ({genre} mix)")

    def description(
        self, genre: str, creator: str, styles: Sequence[str], theme: str, rng: np.random.Generator
    ) -> str:
        mood = _pick(rng, MOODS)
        leaning = " and ".join(styles) if styles else "its own sound"
        pattern = int(rng.integers(3))
        article = "An" if mood[0] in "aeiou" else "A"
        if pattern == 0:
            return f"{article} {mood} {genre} track by {creator} about {theme}, leaning {leaning}."
        if pattern == 1:
            song = f"{article.lower()} {mood} song about {theme}"
            return f"{creator} goes {genre} on {song}, a nod to {leaning}."
        return f"New {genre} from {creator}: {mood}, about {theme}, {leaning} at heart."

    def drafts(
        self,
        genres: Sequence[str],
        creators: Sequence[str],
        styles: Sequence[Sequence[str]],
        rng: np.random.Generator,
    ) -> list[tuple[str, str, str]]:
        """One (title, description, theme) per item, the theme drawn first."""
        out = []
        for genre, creator, own in zip(genres, creators, styles, strict=True):
            theme = _pick(rng, THEMES)
            out.append((self.title(genre, rng), self.description(genre, creator, own, theme, rng), theme))
        return out

    def write(
        self,
        genres: Sequence[str],
        creators: Sequence[str],
        styles: Sequence[Sequence[str]],
        rng: np.random.Generator,
    ) -> list[tuple[str, str]]:
        """One (title, description) per item; the same generator state gives the same texts."""
        return [(title, text) for title, text, _ in self.drafts(genres, creators, styles, rng)]


def _clean_title(text: str, limit: int = 60) -> str:
    """The generated title up to its closing quote or line end, stripped; '' if nothing is left."""
    title = text.split('"')[0].split("\n")[0].strip().strip("*'").strip()
    return title[:limit].rstrip()


class LMWriter:
    """Titles from an instruct causal LM (greedy, batched; see the module docstring), descriptions
    from the template writer. A title that comes out empty falls back to the template's.

    Args:
        model, tokenizer: a Hugging Face causal LM and its tokenizer (a chat template is used when
            the tokenizer has one, else a plain prompt).
        max_new_tokens: the most tokens a title may take.
        batch_size: items generated together.
    """

    def __init__(self, model, tokenizer, max_new_tokens: int = 10, batch_size: int = 32) -> None:
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self.template = TemplateWriter()

    def prompt(self, genre: str, creator: str, theme: str) -> str:
        request = (
            f"Invent a short, original title for a new {genre} song by {creator}. "
            f"The song is about {theme}. Do not use the words of this request."
        )
        if getattr(self.tokenizer, "chat_template", None):
            chat = [{"role": "user", "content": request}]
            head = self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        else:
            head = request + "\n"
        return head + 'Title: "'

    def titles(self, prompts: list[str]) -> list[str]:
        """Greedy completions of ``prompts``, cleaned, ``batch_size`` at a time."""
        import torch

        pad = self.tokenizer.pad_token_id
        pad = self.tokenizer.eos_token_id if pad is None else pad
        out: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = self.tokenizer(
                prompts[start : start + self.batch_size],
                return_tensors="pt",
                padding=True,
                padding_side="left",
                add_special_tokens=False,
            )
            with torch.no_grad():
                ids = self.model.generate(
                    **batch, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad
                )
            width = batch["input_ids"].shape[1]
            texts = self.tokenizer.batch_decode(ids[:, width:], skip_special_tokens=True)
            out += [_clean_title(t) for t in texts]
        return out

    def write(
        self,
        genres: Sequence[str],
        creators: Sequence[str],
        styles: Sequence[Sequence[str]],
        rng: np.random.Generator,
    ) -> list[tuple[str, str]]:
        """One (title, description) per item; the same generator state gives the same texts."""
        drafts = self.template.drafts(genres, creators, styles, rng)  # descriptions, fallback titles
        prompts = [self.prompt(g, c, d[2]) for g, c, d in zip(genres, creators, drafts, strict=True)]
        titles = self.titles(prompts) if prompts else []
        return [(title or draft[0], draft[1]) for title, draft in zip(titles, drafts, strict=True)]


def minilm_encoder(
    cache=None, batch_size: int = 128, progress: bool = False
) -> Callable[[list[str]], np.ndarray]:
    """texts -> (n, 384) float32 all-MiniLM-L6-v2 vectors (``product.encoders.text``), through
    ``cache`` (a ``VectorCache``) when given."""
    from product.encoders.text import encode_product_texts

    def encode(texts: list[str]) -> np.ndarray:
        vectors, _ = encode_product_texts(list(texts), cache=cache, batch_size=batch_size, progress=progress)
        return vectors

    return encode
