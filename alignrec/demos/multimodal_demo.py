"""Demo step: a generated product catalog -> item vectors -> CM³ and content-aware CML that rank
items nobody has interacted with yet (cold start), against random and a content kNN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from product.encoders import Product, encode_catalog, save_features
from recsys.cold_start import cold_item_split, content_knn_scores, evaluate_cold, fit_cold, random_scores
from recsys.models.cm3 import CM3, CM3Config
from recsys.models.content_cml import ContentCML
from recsys.synthetic import make_interactions

CATEGORIES = [
    ("Adhesives", ["super glue", "epoxy resin", "wood glue", "hot melt glue sticks"]),
    ("Lab Glassware", ["borosilicate beaker", "graduated cylinder", "erlenmeyer flask", "test tubes"]),
    ("Safety", ["nitrile gloves", "safety goggles", "ear protection muffs", "dust mask respirator"]),
    (
        "Electronics",
        ["digital multimeter", "soldering iron kit", "breadboard jumper wires", "oscilloscope probe"],
    ),
    ("3D Printing", ["PLA filament", "PETG filament", "print bed adhesive sheet", "nozzle cleaning kit"]),
    ("Cutting Tools", ["utility knife blades", "carbide drill bits", "hacksaw blade", "tin snips"]),
]
BRANDS = ["Acme", "Proline", "LabPro", "Volt", "Forge", "Nimbus"]


def make_catalog(item_cluster: np.ndarray, rng: np.random.Generator) -> list[Product]:
    """One product per item; its category follows the planted taste cluster. About 5% have no
    title nor description (their text is masked as missing)."""
    products = []
    for item, cluster in enumerate(item_cluster):
        category, nouns = CATEGORIES[cluster % len(CATEGORIES)]
        noun = nouns[rng.integers(len(nouns))]
        size = f"{rng.choice([1, 2, 5, 10, 25, 50, 100])} {rng.choice(['pack', 'ml', 'pcs', 'oz'])}"
        brand = BRANDS[rng.integers(len(BRANDS))]
        description = (
            None if rng.random() < 0.3 else f"{category.lower()} supply: {noun} for workshop and lab use"
        )
        title = None if rng.random() < 0.05 else f"{brand} {noun}, {size}"  # some items have no text
        if title is None:
            description = None
        products.append(
            Product(
                item_id=f"p{item}",
                title=title,
                description=description,
                categories=[category],
                brand=brand,
                price=float(rng.choice([3.5, 9.9, 24.0, 60.0])),
            )
        )
    return products


def run(out: Path, console: Console) -> None:
    torch.set_num_threads(1)
    data, truth = make_interactions(num_users=400, num_items=200, events_per_user=20, clusters=6, seed=2026)
    rng = np.random.default_rng(2026)
    products = make_catalog(truth["item_cluster"], rng)
    features = encode_catalog(products, ("text", "attributes"), cache_root=out / "cache")
    save_features(features, out / "features")
    report = features.report()
    console.print(
        f"Encoded {len(products)} generated products -> {out / 'features'}: "
        + ", ".join(f"{m} {r['dim']}-d, {r['missing_rate']:.0%} missing" for m, r in report.items())
    )
    split = cold_item_split(data, cold_fraction=0.2, valid_fraction=0.1, seed=2026)
    modal = [features.vectors["text"][split.item_order], features.vectors["attributes"][split.item_order]]
    console.print(
        f"Cold-start split: {split.num_warm} warm items train, {len(split.valid_items)} cold items validate, "
        f"{len(split.test_items)} cold items test (ranked among themselves, from content alone)"
    )
    results = {
        "random": evaluate_cold(random_scores(split.num_items, seed=0), split).metrics,
        "content kNN (text)": evaluate_cold(content_knn_scores(split.train, modal[0]), split).metrics,
    }
    torch.manual_seed(0)
    cml = ContentCML(data.num_users, split.num_items, modal, dim=32, hidden=128)
    fit_cold(cml, split, epochs=40, eval_every=5, num_negatives=10, lr=3e-3, batch_size=1024)
    results["content-aware CML"] = evaluate_cold(lambda u: cml.scores(torch.from_numpy(u)), split).metrics
    cm3 = CM3(data.num_users, split.num_items, split.train_matrix(), modal, CM3Config(dim=32))
    fit_cold(cm3, split, epochs=30, eval_every=5, lr=5e-3, batch_size=1024)
    results["CM³ (text + attributes)"] = evaluate_cold(
        lambda u: cm3.scores(torch.from_numpy(u)), split
    ).metrics
    table = Table(title=f"Cold items: ranking the {len(split.test_items)} never-seen items per user")
    table.add_column("model")
    for key in ("recall@10", "ndcg@10", "recall@20", "ndcg@20"):
        table.add_column(key, justify="right")
    for name, metrics in results.items():
        table.add_row(name, *(f"{metrics[k]:.3f}" for k in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")))
    console.print(table)
