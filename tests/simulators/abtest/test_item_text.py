"""Item titles and descriptions: the seeded template writer and the LM writer on a tiny llama."""

from __future__ import annotations

import numpy as np

from simulators.abtest.item_text import (
    LMWriter,
    TemplateWriter,
    _clean_title,
    catalog_text,
    item_text,
    top_tags,
)

GENRES = ["rock", "electronic", "female vocalists", "jazz"]
CREATORS = ["Radiohead", "Daft Punk", "Adele", "Miles Davis"]
STYLES = [["indie", "alternative"], ["dance"], [], ["soul", "blues"]]


def write(writer, seed: int) -> list[tuple[str, str]]:
    return writer.write(GENRES, CREATORS, STYLES, np.random.default_rng(seed))


def test_template_texts_are_seeded_and_name_genre_creator_and_styles():
    first, again, other = write(TemplateWriter(), 3), write(TemplateWriter(), 3), write(TemplateWriter(), 4)
    assert first == again and first != other
    for (title, description), genre, creator, styles in zip(first, GENRES, CREATORS, STYLES, strict=True):
        assert title and title[0].isupper() and description.endswith(".")
        assert genre in description and creator in description
        assert all(style in description for style in styles)
    many = TemplateWriter().write(["rock"] * 200, ["X"] * 200, [["pop"]] * 200, np.random.default_rng(0))
    assert len({title for title, _ in many}) > 100  # varied, not one title per genre
    assert any("Rock" in title for title, _ in many)  # some titles carry the genre


def test_texts_and_top_tags():
    assert item_text("Paper Tide", "New rock.") == "Paper Tide. New rock."
    assert (
        catalog_text("Adele", ["soul", "pop"]) == "Adele. soul, pop" and catalog_text("Adele", []) == "Adele"
    )
    weights = np.array([0.1, 0.5, 0.0, 0.4])
    assert top_tags(weights, GENRES, 2) == ["electronic", "jazz"]
    assert top_tags(weights, GENRES, 3, skip=1) == ["jazz", "rock"]  # zero weights never count


def test_clean_title_cuts_at_the_closing_quote():
    assert _clean_title('Neon Lights" by someone') == "Neon Lights"
    assert _clean_title("  *Rain*\nmore") == "Rain" and _clean_title('"') == ""
    assert len(_clean_title("x" * 200)) == 60


def test_lm_writer_on_a_tiny_llama(model, tokenizer):
    writer = LMWriter(model, tokenizer, max_new_tokens=6, batch_size=3)
    prompt = writer.prompt("jazz", "Miles Davis", "rain")
    assert "jazz" in prompt and "Miles Davis" in prompt and prompt.endswith('Title: "')
    first, again = write(writer, 5), write(writer, 5)
    assert first == again and len(first) == len(GENRES)
    template = write(TemplateWriter(), 5)
    for (title, description), (_, expected), genre in zip(first, template, GENRES, strict=True):
        assert title and len(title) <= 60
        assert description == expected and genre in description  # the template's description
    assert writer.write([], [], [], np.random.default_rng(0)) == []
