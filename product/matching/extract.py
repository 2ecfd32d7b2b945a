"""What a listing's text says that plain similarity misses: identifiers, units, colours, numbers.

Close non-matches (ProMap, Macková & Pilát 2023) share almost every word with the true match and
differ in one token: a model number (``KDL-40V5100`` vs ``KDL-46V5100``), a capacity (64 GB vs
128 GB), a pack size or a colour. These functions pull such tokens out of normalised text so the
pair features can compare them field by field.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W_]+")
# A token that may hold joiners: "dht-fs3", "ps/2", "2.4". Used to find codes and numbers.
_JOINED = re.compile(r"[^\W_]+(?:[-/.][^\W_]+)*")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w])")

# Unit families: each unit's factor to the family's base unit, so "1 tb" equals "1000 gb".
# Bare "in" is left out: "2 in 1" is not a length.
UNITS: dict[str, dict[str, float]] = {
    "storage": {"kb": 1e-6, "mb": 1e-3, "gb": 1.0, "tb": 1e3},
    "length": {"mm": 0.1, "cm": 1.0, "m": 100.0, "inch": 2.54, "inches": 2.54, '"': 2.54, "ft": 30.48},
    "weight": {"mg": 1e-3, "g": 1.0, "kg": 1e3, "lb": 453.6, "lbs": 453.6, "oz": 28.35},
    "volume": {"ml": 1.0, "l": 1e3, "fl oz": 29.57, "gal": 3785.0},
    "power": {"w": 1.0, "watt": 1.0, "watts": 1.0, "kw": 1e3},
    "frequency": {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9},
    "voltage": {"v": 1.0, "volt": 1.0, "volts": 1.0},
    "charge": {"mah": 1.0},
    "pixels": {"mp": 1.0, "megapixel": 1.0, "megapixels": 1.0},
    "count": {
        "pack": 1.0,
        "pk": 1.0,
        "ct": 1.0,
        "count": 1.0,
        "pcs": 1.0,
        "pieces": 1.0,
        "ks": 1.0,
        "tablets": 1.0,
        "capsules": 1.0,
        "sheets": 1.0,
    },
}
UNIT_FAMILIES = tuple(UNITS)
_UNIT_OF = {unit: (family, factor) for family, units in UNITS.items() for unit, factor in units.items()}
_UNIT_PATTERN = "|".join(re.escape(u) for u in sorted(_UNIT_OF, key=len, reverse=True))
_QUANTITY = re.compile(rf"(?<![\w.])(\d+(?:[.,]\d+)?)\s?-?\s?({_UNIT_PATTERN})(?!\w)")
_PACK_OF = re.compile(r"\b(?:pack|set|case|box) of (\d+)\b")
# Tokens like "500gb" or "1080p" are quantities, not identifiers.
_UNIT_TOKEN = re.compile(rf"^\d+(?:[.,]\d+)?(?:{_UNIT_PATTERN}|p|k|x|th|st|nd|rd|s)$")

# English colour words, plus Czech stems (ProMapCz): "černá", "černý", "černé" share "čern".
COLOURS = (
    "black",
    "white",
    "red",
    "blue",
    "green",
    "yellow",
    "orange",
    "purple",
    "pink",
    "brown",
    "grey",
    "gray",
    "silver",
    "gold",
    "beige",
    "navy",
    "teal",
    "violet",
    "bronze",
    "ivory",
)
_COLOUR_ALIASES = {"gray": "grey"}
_CZECH_COLOUR_STEMS = {
    "čern": "black",
    "bíl": "white",
    "červen": "red",
    "modr": "blue",
    "zelen": "green",
    "žlut": "yellow",
    "oranžov": "orange",
    "fialov": "purple",
    "růžov": "pink",
    "hněd": "brown",
    "šed": "grey",
    "stříbrn": "silver",
    "zlat": "gold",
    "béžov": "beige",
}

# Specification keys that name the brand when the listing has no brand field.
_BRAND_KEYS = re.compile(r"^(brand|manufacturer|značka|výrobce)$", re.IGNORECASE)
# Specification keys whose values are identifiers.
_ID_KEYS = re.compile(r"model|mpn|part|sku|ean|gtin|upc|isbn|kód|katalog", re.IGNORECASE)


def normalize_text(text: str) -> str:
    """Lower-case, HTML entities decoded, Unicode NFKC, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", html.unescape(text)).lower()
    return " ".join(text.replace("\u00d7", "x").split())


def tokens(text: str) -> list[str]:
    """Word tokens of normalised text (letters and digits; punctuation splits)."""
    return _WORD.findall(text)


def compact(text: str) -> str:
    """Letters and digits only: "DHT-FS3 / ps lx350" -> "dhtfs3pslx350"."""
    return "".join(_WORD.findall(text))


def numbers(text: str) -> set[str]:
    """Standalone numbers ("2007", "9.0"), decimal commas read as points."""
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


def identifiers(text: str) -> set[str]:
    """Model and part numbers: tokens of >= 4 letters/digits holding a digit, and digit-only
    tokens of >= 5 digits; quantities ("500gb", "1080p") are left out. Returned compacted."""
    found = set()
    for token in _JOINED.findall(text):
        if _UNIT_TOKEN.match(token):
            continue
        code = compact(token)
        if len(code) < 4 or not any(c.isdigit() for c in code):
            continue
        if code.isdigit() and len(code) < 5:
            continue
        found.add(code)
    return found


def is_valid_gtin(code: str) -> bool:
    """GTIN-8/12/13/14 (EAN, UPC) with a correct check digit."""
    if len(code) not in (8, 12, 13, 14) or not code.isdigit():
        return False
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def gtins(text: str) -> set[str]:
    """GTINs in the text, zero-padded to 14 digits so a UPC-12 equals its EAN-13 form."""
    return {n.zfill(14) for n in re.findall(r"(?<!\d)\d{8,14}(?!\d)", text) if is_valid_gtin(n)}


def quantities(text: str) -> dict[str, set[float]]:
    """Quantities per unit family in base units: {"storage": {64.0}, "count": {6.0}}."""
    found: dict[str, set[float]] = {}
    for value, unit in _QUANTITY.findall(text):
        family, factor = _UNIT_OF[unit]
        found.setdefault(family, set()).add(round(float(value.replace(",", ".")) * factor, 6))
    for value in _PACK_OF.findall(text):
        found.setdefault("count", set()).add(float(value))
    return found


def colours(text: str) -> set[str]:
    """Colour names (English words, Czech stems mapped to English)."""
    found = set()
    for token in tokens(text):
        if token in COLOURS:
            found.add(_COLOUR_ALIASES.get(token, token))
            continue
        for stem, colour in _CZECH_COLOUR_STEMS.items():
            if token.startswith(stem):
                found.add(colour)
    return found


def quantities_agree(a: set[float], b: set[float], tolerance: float = 0.02) -> bool:
    """Whether two sets of quantities share a value within a relative tolerance."""
    return any(abs(x - y) <= tolerance * max(abs(x), abs(y), 1e-9) for x in a for y in b)


@dataclass
class Profile:
    """The parsed view of one listing that pair features compare."""

    title_tokens: set[str]
    text_tokens: set[str]
    title_numbers: set[str]
    text_numbers: set[str]
    title_ids: set[str]  # identifiers in the title and identifier-like specifications
    text_compact: str  # all text, letters and digits only, for containment checks
    gtins: set[str]
    quantities: dict[str, set[float]]
    colours: set[str]
    brand: str
    category_tokens: set[str]
    specs: dict[str, str] = field(default_factory=dict)


def profile(title: str, text: str, brand: str, category: str, specs: dict[str, str]) -> Profile:
    """Parse one listing; ``text`` is all its text (title, brand, specifications, description)."""
    title, text = normalize_text(title), normalize_text(text)
    spec_ids = set()
    for key, value in specs.items():
        if _ID_KEYS.search(key):
            code = compact(normalize_text(value))
            if len(code) >= 4:
                spec_ids.add(code)
    if not brand.strip():
        brand = next((v for k, v in specs.items() if _BRAND_KEYS.match(k.strip())), "")
    title_and_specs = title + " " + normalize_text(" ".join(f"{k} {v}" for k, v in specs.items()))
    return Profile(
        title_tokens=set(tokens(title)),
        text_tokens=set(tokens(text)),
        title_numbers=numbers(title),
        text_numbers=numbers(text),
        title_ids=identifiers(title) | spec_ids,
        text_compact=compact(text),
        gtins=gtins(title_and_specs) | {g for g in spec_ids if is_valid_gtin(g)},
        quantities=quantities(title_and_specs),
        colours=colours(title_and_specs),
        brand=compact(normalize_text(brand)),
        category_tokens=set(tokens(normalize_text(category))),
        specs={normalize_text(k): normalize_text(v) for k, v in specs.items()},
    )
