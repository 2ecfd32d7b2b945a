"""Seeded synthetic purchase-and-fit data with a known truth, in the canonical ``records`` frame.

Every customer has a planted latent true size ``u`` (in size steps; one step is two US sizes) and
body measurements that follow from it. Every product has a sizing offset made of its brand's,
its category's and its own (negative: runs small). A purchase of size step ``k`` of product ``p``
has the true fit score

    z = k + offset_p + body_type_effect(category) - u + noise,

and the true outcome is ``small`` when ``z < -half_band``, ``large`` when ``z > half_band``,
``fit`` otherwise. Customers pick sizes from a noisy belief of their size and correct for a
product's offset only partly, so all three outcomes occur.

Two things make review text carry information the labels lack, as in the real data:
- **reported labels are noisy**: a mild misfit is often reported as ``fit`` and a small share of
  labels are random;
- **reviews describe the true outcome and its severity** ("a bit snug in the waist" versus "could
  not zip it up"), with noise: some reviews have no fit sentence, some describe a random outcome,
  some purchases have no review at all.

So the claim "reviews help" is tested against a truth nobody had to label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from product.sizefit.records import FIT_LABELS, to_frame

CATEGORIES = ("dress", "top", "bottom", "jumpsuit", "outerwear")
BODY_TYPES = ("hourglass", "pear", "apple", "athletic", "petite", "straight & narrow", "full bust")
# How a body type changes the felt size of a category, in steps (negative: feels small).
BODY_EFFECT = {
    ("pear", "bottom"): -0.6, ("pear", "jumpsuit"): -0.4, ("full bust", "top"): -0.6,
    ("full bust", "dress"): -0.4, ("apple", "dress"): -0.3, ("apple", "top"): -0.3,
    ("petite", "dress"): 0.4, ("petite", "jumpsuit"): 0.5, ("athletic", "outerwear"): -0.4,
}  # fmt: skip
NUM_STEPS = 13  # US sizes 0, 2, ..., 24

PARTS = ("bust", "waist", "hips", "shoulders", "chest", "arms")
FIT_SENTENCES = {
    ("small", "severe"): (
        "Way too small, I could not even zip it up.", "Runs very small, size up at least one size.",
        "Much too tight in the {part}.", "It was tiny on me and I had to send it back.",
        "Painfully tight across the {part}, order a size up.", "I couldn't get it over my {part}.",
    ),
    ("small", "mild"): (
        "It was a bit snug in the {part}.", "Slightly tight across the {part}.",
        "A little small, but still wearable.", "Felt a touch tight in the {part}.",
        "Runs slightly small in the {part}.", "A bit snug, I might size up next time.",
    ),
    ("fit", "-"): (
        "Fits true to size.", "The fit was perfect.", "Fit like a glove.",
        "True to size, I took my usual size.", "It fit perfectly through the {part}.",
        "The sizing was spot on.", "Great fit everywhere, including the {part}.",
    ),
    ("large", "mild"): (
        "A little loose in the {part}.", "Slightly roomy, but it worked with a belt.",
        "It ran a touch big in the {part}.", "A bit baggy around the {part}.",
        "Runs slightly large, I could have sized down.", "Slightly loose but still flattering.",
    ),
    ("large", "severe"): (
        "Way too big, definitely size down.", "It was huge on me, I was swimming in it.",
        "Runs very large in the {part}.", "Enormous through the {part}, go a size or two down.",
        "Far too loose everywhere, it just hung off me.", "Much too big, I had to return it.",
    ),
}  # fmt: skip
NEUTRAL_SENTENCES = (
    "Love the color.", "The fabric is soft and comfortable.", "Got so many compliments.",
    "Wore it to a wedding.", "Perfect for work.", "Shipping was fast.",
    "The zipper was a little hard to reach.", "Would rent again.", "Beautiful print.",
    "The material feels a bit cheap.", "Great for a night out.", "I wore it all day.",
    "It photographs really well.", "The length was great for my height.",
)  # fmt: skip
SUMMARIES = {
    "small": ("Runs small!", "Size up", "Too tight for me"),
    "fit": ("True to size", "Perfect fit", "Fits great"),
    "large": ("Runs big", "Size down", "Too loose for me"),
    "neutral": ("Love it", "Great dress", "So pretty", "Nice", "Fun outfit", "Gorgeous"),
}  # fmt: skip


@dataclass(frozen=True)
class SyntheticTruth:
    customer_size: dict[str, float]  # latent true size, in steps
    product_offset: dict[str, float]  # brand + category + own offset, in steps
    brand_offset: np.ndarray  # (num_brands,)
    category_offset: dict[str, float]
    catalog: dict[str, list[float]]  # product -> sizes it comes in (US numbers)
    true_fit: np.ndarray  # (N,) true outcome per row of the frame, before reporting noise
    true_score: np.ndarray  # (N,) z per row


@dataclass(frozen=True)
class SyntheticFitData:
    frame: pd.DataFrame  # canonical columns (product.sizefit.records.COLUMNS)
    truth: SyntheticTruth

    def best_size(self, customer_id: str, product_id: str) -> float:
        """The catalog size whose true fit score is nearest zero (body-type effect included)."""
        row = self.frame.loc[self.frame["customer_id"] == customer_id].iloc[0]
        category = self.frame.loc[self.frame["product_id"] == product_id, "category"].iloc[0]
        effect = BODY_EFFECT.get((row["body_type"], category), 0.0)
        sizes = np.asarray(self.truth.catalog[product_id])
        base = self.truth.product_offset[product_id] + effect - self.truth.customer_size[customer_id]
        return float(sizes[np.argmin(np.abs(sizes / 2 + base))])


def _sentence(rng: np.random.Generator, outcome: str, severity: str) -> str:
    choices = FIT_SENTENCES[(outcome, severity)]
    return choices[rng.integers(len(choices))].format(part=PARTS[rng.integers(len(PARTS))])


def _review(
    rng: np.random.Generator, outcome: str, severity: str, fit_sentence_rate: float, wording_noise: float
):
    """(review text, summary) for a purchase with this true outcome."""
    if rng.random() < wording_noise:  # the review talks about the fit, but not this purchase's
        outcome = FIT_LABELS[rng.integers(3)]
        severity = "-" if outcome == "fit" else ("mild", "severe")[rng.integers(2)]
    sentences = list(rng.choice(NEUTRAL_SENTENCES, size=rng.integers(1, 3), replace=False))
    says_fit = rng.random() < fit_sentence_rate
    if says_fit:
        sentences.insert(rng.integers(len(sentences) + 1), _sentence(rng, outcome, severity))
    pool = SUMMARIES[outcome if says_fit and rng.random() < 0.4 else "neutral"]
    return " ".join(sentences), pool[rng.integers(len(pool))]


def generate_fit_data(
    num_customers: int = 6000,
    num_products: int = 500,
    num_brands: int = 15,
    mean_purchases: float = 3.0,
    half_band: float = 0.65,
    underreport_rate: float = 0.5,
    label_noise: float = 0.03,
    review_rate: float = 0.95,
    fit_sentence_rate: float = 0.9,
    wording_noise: float = 0.05,
    missing_rate: float = 0.3,
    seed: int = 0,
) -> SyntheticFitData:
    """Purchases with planted latent sizes, sizing offsets and fit-dependent review wording.

    Args:
        num_customers, num_products, num_brands: population sizes.
        mean_purchases: mean purchases per customer (1 + Poisson; many customers buy once).
        half_band: |z| below this is a true ``fit``.
        underreport_rate: share of mild misfits (within one step of the band) reported as ``fit``.
        label_noise: share of labels replaced by a uniformly random one.
        review_rate: share of purchases with a review.
        fit_sentence_rate: share of reviews with a sentence about the fit.
        wording_noise: share of reviews describing a random outcome instead of the true one.
        missing_rate: share of measurements missing (per customer and field).
        seed: everything is drawn from ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    categories = np.asarray(CATEGORIES)
    category_offset = dict(zip(CATEGORIES, rng.normal(0.0, 0.4, len(CATEGORIES)).round(3), strict=True))
    brand_offset = rng.normal(0.0, 0.6, num_brands)

    # Products: brand, category, own offset, a contiguous range of sizes, Zipf-like popularity.
    product_ids = np.array([f"p{index:05d}" for index in range(num_products)])
    product_brand = rng.integers(num_brands, size=num_products)
    product_category = categories[rng.integers(len(CATEGORIES), size=num_products)]
    offset = (
        brand_offset[product_brand]
        + np.array([category_offset[c] for c in product_category])
        + rng.normal(0.0, 0.35, num_products)
    )
    low = rng.integers(0, 3, size=num_products)
    high = rng.integers(NUM_STEPS - 3, NUM_STEPS + 1, size=num_products)
    popularity = 1.0 / (rng.permutation(num_products) + 5.0) ** 0.9
    popularity /= popularity.sum()

    # Customers: latent size, body type, measurements that follow from both, a size belief.
    customer_ids = np.array([f"c{index:06d}" for index in range(num_customers)])
    size = rng.normal(5.5, 1.7, num_customers)
    body = np.asarray(BODY_TYPES)[rng.integers(len(BODY_TYPES), size=num_customers)]
    centred = size - 5.5
    bust = 36 + 1.1 * centred + 1.5 * (body == "full bust") + rng.normal(0, 0.8, num_customers)
    waist = 29 + 1.1 * centred + 1.5 * (body == "apple") + rng.normal(0, 0.8, num_customers)
    hips = 39 + 1.1 * centred + 1.5 * (body == "pear") + rng.normal(0, 0.8, num_customers)
    measurements = {
        "height_cm": rng.normal(165, 7, num_customers) - 6 * (body == "petite"),
        "weight_kg": 66 + 4.5 * centred + rng.normal(0, 4, num_customers),
        "band_in": 2 * np.round((bust - 3) / 2),
        "bust_in": bust,
        "waist_in": waist,
        "hips_in": hips,
        "age": rng.normal(35, 9, num_customers).clip(18, 80).round(),
    }
    measurements["cup"] = (bust - measurements["band_in"]).clip(0, 8).round()
    no_profile = rng.random(num_customers) < 0.1
    for values in measurements.values():
        values[(rng.random(num_customers) < missing_rate) | no_profile] = np.nan
    belief = size + rng.normal(0, 0.5, num_customers)
    awareness = rng.beta(2, 2, num_customers)  # how much of a product's offset she corrects for

    # Purchases.
    counts = 1 + rng.poisson(mean_purchases - 1, num_customers)
    buyer = np.repeat(np.arange(num_customers), counts)
    product = rng.choice(num_products, size=buyer.size, p=popularity)
    category = product_category[product]
    effect = np.array([BODY_EFFECT.get((b, c), 0.0) for b, c in zip(body[buyer], category, strict=True)])
    wanted = belief[buyer] - awareness[buyer] * offset[product] + rng.normal(0, 0.6, buyer.size)
    step = np.clip(np.round(wanted), low[product], high[product])
    score = step + offset[product] + effect - size[buyer] + rng.normal(0, 0.25, buyer.size)
    true_fit = np.where(score < -half_band, "small", np.where(score > half_band, "large", "fit"))

    reported = true_fit.copy()
    mild = (np.abs(score) > half_band) & (np.abs(score) < half_band + 1.0)
    reported[mild & (rng.random(buyer.size) < underreport_rate)] = "fit"
    noisy = rng.random(buyer.size) < label_noise
    reported[noisy] = np.asarray(FIT_LABELS)[rng.integers(3, size=noisy.sum())]

    days = rng.integers(0, 730, size=buyer.size)
    start = pd.Timestamp("2022-01-01")
    rows = []
    for row in range(buyer.size):
        c, p = buyer[row], product[row]
        severity = (
            "-" if true_fit[row] == "fit" else ("mild" if abs(score[row]) < half_band + 1.0 else "severe")
        )
        text, summary = ("", "")
        if rng.random() < review_rate:
            text, summary = _review(rng, true_fit[row], severity, fit_sentence_rate, wording_noise)
        rows.append(
            {
                "line": row + 1,
                "customer_id": customer_ids[c],
                "product_id": product_ids[p],
                "size": float(2 * step[row]),
                "fit": reported[row],
                "category": category[row],
                **{name: values[c] for name, values in measurements.items()},
                "body_type": "" if no_profile[c] else body[c],
                "rating": float(rng.integers(6, 11)) / 10,
                "review_text": text,
                "review_summary": summary,
                "review_date": start + pd.Timedelta(days=int(days[row])),
            }
        )
    frame = to_frame(rows)
    order = np.lexsort((frame["line"].to_numpy(), frame["review_date"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    truth = SyntheticTruth(
        customer_size=dict(zip(customer_ids, size, strict=True)),
        product_offset=dict(zip(product_ids, offset, strict=True)),
        brand_offset=brand_offset,
        category_offset=category_offset,
        catalog={
            product_ids[p]: [float(2 * k) for k in range(low[p], high[p] + 1)] for p in range(num_products)
        },
        true_fit=true_fit[order],
        true_score=score[order],
    )
    return SyntheticFitData(frame=frame, truth=truth)
