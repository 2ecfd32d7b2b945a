"""Product catalogs: one record per item with optional title, description, attributes and image.

Accepted files: CSV (``.csv``, ``.csv.gz``) and JSON Lines (``.jsonl``, ``.jsonl.gz``). Fields:

``item_id`` (required, unique), ``title``, ``description``, ``categories`` (a list in JSON Lines,
``|``-separated in CSV), ``brand``, ``price`` (a number), ``image`` (a path, relative paths are
resolved against the catalog's folder), ``specs`` (an object in JSON Lines, ``key=value;key=value``
in CSV). Unknown fields are ignored. Bad values raise ``ValueError`` naming file, line and field.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Product:
    """One catalog record; absent fields are None or empty."""

    item_id: str
    title: str | None = None
    description: str | None = None
    categories: list[str] = field(default_factory=list)
    brand: str | None = None
    price: float | None = None
    image: str | None = None
    specs: dict[str, str] = field(default_factory=dict)

    def text(self) -> str | None:
        """Title and description joined, or None when both are absent."""
        parts = [p.strip() for p in (self.title, self.description) if p and p.strip()]
        return ". ".join(parts) if parts else None


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def _optional_str(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _product(raw: dict, path: Path, line: int, folder: Path, from_csv: bool) -> Product:
    where = f"{path}, line {line}"
    item_id = _optional_str(raw.get("item_id"))
    if item_id is None:
        raise ValueError(f"{where}: field 'item_id' is missing or empty")
    price = None
    if _optional_str(raw.get("price")) is not None:
        try:
            price = float(raw["price"])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: field 'price' is not a number: {raw['price']!r}") from None
        if math.isnan(price) or price < 0:
            raise ValueError(f"{where}: field 'price' must be a non-negative number, got {raw['price']!r}")
    categories = raw.get("categories") or []
    if from_csv:
        categories = [c for c in str(categories).split("|")] if categories else []
    elif not isinstance(categories, list):
        raise ValueError(f"{where}: field 'categories' must be a list, got {type(categories).__name__}")
    specs = raw.get("specs") or {}
    if from_csv and specs:
        pairs = [p for p in str(specs).split(";") if p.strip()]
        if any("=" not in p for p in pairs):
            raise ValueError(f"{where}: field 'specs' must be 'key=value;key=value', got {specs!r}")
        specs = dict(p.split("=", 1) for p in pairs)
    elif not isinstance(specs, dict):
        raise ValueError(f"{where}: field 'specs' must be an object, got {type(specs).__name__}")
    image = _optional_str(raw.get("image"))
    if image is not None and not Path(image).is_absolute():
        image = str(folder / image)
    return Product(
        item_id=item_id,
        title=_optional_str(raw.get("title")),
        description=_optional_str(raw.get("description")),
        categories=[str(c).strip() for c in categories if str(c).strip()],
        brand=_optional_str(raw.get("brand")),
        price=price,
        image=image,
        specs={str(k).strip(): str(v).strip() for k, v in specs.items()},
    )


def read_catalog(path: str | Path) -> list[Product]:
    """Read a catalog file (CSV or JSON Lines, optionally gzipped) into products, in file order."""
    path = Path(path)
    name = path.name.removesuffix(".gz")
    if not path.is_file():
        raise FileNotFoundError(f"catalog {path} not found")
    records: list[tuple[int, Product]] = []
    with _open_text(path) as handle:
        if name.endswith(".csv"):
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "item_id" not in reader.fieldnames:
                raise ValueError(f"{path}, line 1: header has no 'item_id' column")
            # Line numbers count the header as line 1.
            for row in reader:
                line = reader.line_num
                records.append((line, _product(row, path, line, path.parent, True)))
        elif name.endswith(".jsonl"):
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    raw = json.loads(text)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}, line {line}: invalid JSON ({error.msg})") from None
                if not isinstance(raw, dict):
                    raise ValueError(f"{path}, line {line}: expected a JSON object")
                records.append((line, _product(raw, path, line, path.parent, False)))
        else:
            raise ValueError(f"{path}: unknown catalog format; use .csv or .jsonl (optionally .gz)")
    seen: set[str] = set()
    for line, product in records:
        if product.item_id in seen:
            raise ValueError(f"{path}, line {line}: field 'item_id' repeats {product.item_id!r}")
        seen.add(product.item_id)
    return [product for _, product in records]


def read_unisrec_text(path: str | Path) -> list[Product]:
    """Products from a UniSRec/RecBole ``.text`` file (``item_id:token<TAB>text:token_seq``).

    The whole text (title, categories and brand run together) becomes the title.
    """
    path = Path(path)
    products = []
    with _open_text(path) as handle:
        header = handle.readline().rstrip("\n").split("\t")
        if header[:2] != ["item_id:token", "text:token_seq"]:
            raise ValueError(f"{path}, line 1: expected header 'item_id:token<TAB>text:token_seq'")
        for line, text in enumerate(handle, start=2):
            fields = text.rstrip("\n").split("\t")
            if len(fields) != 2 or not fields[0]:
                raise ValueError(f"{path}, line {line}: expected 2 tab-separated fields")
            products.append(Product(item_id=fields[0], title=_optional_str(fields[1])))
    return products
