"""Two generated shop catalogs with planted matches and close non-matches (for tests and the demo).

Products come in families: one brand, one product line, several variants that differ only in a
model-number suffix, a capacity or size, a pack count or a colour. The left shop lists some
variants; the right shop lists rewritten copies of some of them (reordered words, reformatted
model numbers, dropped words, a jittered price) plus sibling variants the left shop lacks. A
variant's siblings are therefore the close non-matches that pure text similarity confuses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from product.matching.listing import LISTING_COLUMNS

BRANDS = (
    "Sonix",
    "Kelvar",
    "Aurora",
    "Mistral",
    "Pollux",
    "Brightway",
    "Nordcap",
    "Tessel",
    "Vantor",
    "Quilla",
    "Rendex",
    "Oakhart",
)
# (kind, line words, varying attribute, its values with a unit, base price)
KINDS = (
    ("smartphone", ("Galaxy", "Nova", "Pixel", "Edge"), "storage", ("64GB", "128GB", "256GB"), 300.0),
    ("television", ("Vision", "Crystal", "Bravo", "Ultra"), "size", ('43"', '50"', '55"', '65"'), 500.0),
    ("laptop", ("Book", "Air", "Pro", "Slim"), "storage", ("256GB", "512GB", "1TB"), 800.0),
    ("headphones", ("Bass", "Quiet", "Studio", "Sport"), "colour", ("Black", "White", "Blue", "Red"), 80.0),
    ("detergent pods", ("Fresh", "Clean", "Spring", "Ocean"), "count", ("24 ct", "42 ct", "81 ct"), 15.0),
    ("power bank", ("Volt", "Charge", "Max", "Go"), "charge", ("10000mAh", "20000mAh"), 30.0),
    ("vacuum cleaner", ("Cyclone", "Storm", "Turbo", "Home"), "power", ("600W", "900W", "1200W"), 150.0),
)
FILLER = ("new", "original", "official", "genuine", "2024 model", "free shipping")


@dataclass
class SyntheticCatalogs:
    """Two catalogs in the listing schema and their true matches (``left_id, right_id``)."""

    left: pd.DataFrame
    right: pd.DataFrame
    matches: pd.DataFrame


def _model_code(rng: np.random.Generator, brand: str) -> str:
    return f"{brand[:2].upper()}{rng.integers(100, 999)}"


def _rewrite(rng: np.random.Generator, words: list[str], model: str) -> str:
    """A second shop's title for the same product: the model number reformatted or left out (then
    only the capacity, size, count or colour tells siblings apart), words dropped and shuffled."""
    body = [w for w in words if w != model and rng.random() > 0.15]
    head, tail = body[:1], body[1:]
    rng.shuffle(tail)
    if rng.random() < 0.65:
        tail.insert(
            int(rng.integers(len(tail) + 1)), model if rng.random() < 0.5 else f"{model[:2]}-{model[2:]}"
        )
    title = " ".join(head + tail)
    return title.lower() if rng.random() < 0.5 else title


def make_catalogs(n_families: int = 60, seed: int = 0, id_prefix: str = "") -> SyntheticCatalogs:
    """Generate two catalogs of about ``2 n_families`` listings each.

    Every family's variants share brand, line and kind; each variant is listed on the left with
    probability 0.7 and on the right with probability 0.7 (so some matches have no partner and
    some right listings only have close non-matches on the left).
    """
    rng = np.random.default_rng(seed)
    left_rows, right_rows, matches = [], [], []
    for family in range(n_families):
        brand = BRANDS[rng.integers(len(BRANDS))]
        kind, lines, attribute, values, base_price = KINDS[rng.integers(len(KINDS))]
        line = f"{lines[rng.integers(len(lines))]} {rng.integers(2, 12)}"
        model = _model_code(rng, brand)
        n_variants = int(rng.integers(2, min(4, len(values)) + 1))
        chosen = rng.choice(len(values), size=n_variants, replace=False)
        for v, value_index in enumerate(chosen):
            value = values[value_index]
            variant_model = f"{model}{'ABCD'[v]}"
            price = round(base_price * (1 + 0.3 * value_index) * rng.uniform(0.9, 1.1), 2)
            words = [brand, line, variant_model, value, kind]
            if rng.random() < 0.4:
                words.append(FILLER[rng.integers(len(FILLER))])
            key = f"{id_prefix}f{family}v{v}"
            on_left, on_right = rng.random() < 0.7, rng.random() < 0.7
            if on_left:
                left_rows.append(
                    {
                        "id": f"L-{key}",
                        "title": " ".join(words),
                        "brand": brand,
                        "category": kind,
                        "price": price,
                        "description": f"{brand} {kind} from the {line} series, {attribute} {value}.",
                        "specifications": {"model": variant_model, attribute: value},
                        "shop": "left",
                    }
                )
            if on_right:
                right_rows.append(
                    {
                        "id": f"R-{key}",
                        "title": _rewrite(rng, words, variant_model),
                        "brand": brand if rng.random() < 0.6 else "",
                        "category": "",
                        "price": round(price * rng.uniform(0.92, 1.08), 2),
                        "description": "",
                        "specifications": {},
                        "shop": "right",
                    }
                )
            if on_left and on_right:
                matches.append({"left_id": f"L-{key}", "right_id": f"R-{key}"})
    frames = []
    for rows in (left_rows, right_rows):
        frame = pd.DataFrame(rows)
        for column in LISTING_COLUMNS:
            if column not in frame:
                frame[column] = ""
        frames.append(frame[list(LISTING_COLUMNS)].astype({"price": float}))
    return SyntheticCatalogs(frames[0], frames[1], pd.DataFrame(matches, columns=["left_id", "right_id"]))


def label_pairs(pairs: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` (``left_id, right_id``) with a 0/1 ``label`` column from the true matches."""
    truth = set(zip(matches["left_id"], matches["right_id"], strict=True))
    labels = [int(p in truth) for p in zip(pairs["left_id"], pairs["right_id"], strict=True)]
    return pairs[["left_id", "right_id"]].assign(label=labels)
