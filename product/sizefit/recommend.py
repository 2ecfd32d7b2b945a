"""``SizeRecommender``: a trained fit model a shop can query, save and load.

For a customer and a product with its available sizes, ``recommend`` returns P(small), P(fit),
P(large) for every size and the size most likely to fit. What it knows of the customer decides
how (``basis``):

- ``history``: the customer has past purchases: her latent size, fit history and reviews are used;
- ``measurements``: a new customer who gave measurements or a body type: the model reads those;
- ``population``: nothing is known: the probabilities are averaged over the product's recorded
  buyers (or its category's, for a new product), i.e. the size that fits the product's population.

Usable without the CLI: ``SizeRecommender.load(path).recommend("c001", "p042", [4, 6, 8])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch

from product.sizefit.calibration import DecisionCuts, OrdinalCalibration
from product.sizefit.features import FeatureSpace, encode_rows
from product.sizefit.model import LatentSizeNet
from product.sizefit.records import FIT_LABELS, MEASUREMENTS, to_frame
from recsys.storage import torch_save_atomic

FORMAT_VERSION = 1
Basis = Literal["history", "measurements", "population"]


@dataclass(frozen=True)
class Customer:
    """A customer as a request gives her: an id, measurements, or both (any may be missing)."""

    customer_id: str = ""
    height_cm: float | None = None
    weight_kg: float | None = None
    band_in: float | None = None
    cup: float | None = None
    bust_in: float | None = None
    waist_in: float | None = None
    hips_in: float | None = None
    age: float | None = None
    body_type: str = ""


@dataclass(frozen=True)
class Product:
    product_id: str
    category: str = ""  # read only for products the model has not seen


@dataclass(frozen=True)
class SizeOption:
    size: float
    p_small: float
    p_fit: float
    p_large: float


@dataclass(frozen=True)
class SizeRecommendation:
    customer_id: str
    product_id: str
    recommended_size: float
    basis: Basis
    options: list[SizeOption] = field(default_factory=list)  # one per size asked about, in order


class SizeRecommender:
    """A trained ``LatentSizeNet`` with its feature space, calibration and decision thresholds."""

    def __init__(
        self,
        net: LatentSizeNet,
        space: FeatureSpace,
        calibration: OrdinalCalibration,
        cuts: DecisionCuts,
        product_buyers: np.ndarray,
        category_buyers: np.ndarray,
        net_args: dict,
    ):
        self.net = net.eval()
        self.space = space
        self.calibration = calibration
        self.cuts = cuts
        self.product_buyers = product_buyers  # (P+1, K) customer indices, -1 padded
        self.category_buyers = category_buyers  # (C+1, K)
        self.net_args = net_args

    @property
    def uses_reviews(self) -> bool:
        return self.space.review_dim > 0

    # --- scoring records -------------------------------------------------------------------

    @torch.no_grad()
    def score(self, frame: pd.DataFrame, batch_size: int = 65536) -> np.ndarray:
        """Fit scores z (N,) of new records (not among the training records)."""
        x = encode_rows(self.space, frame)
        parts = [
            self.net.score(x.select(torch.arange(i, min(i + batch_size, len(x)))))
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(parts).numpy() if parts else np.zeros(0, dtype=np.float32)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated P(small), P(fit), P(large) of new records: (N, 3)."""
        return self.calibration.proba(self.score(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The class with the macro-F1 decision thresholds: (N,) strings small / fit / large."""
        return np.asarray(FIT_LABELS)[self.cuts.predict(self.score(frame))]

    # --- recommending sizes ----------------------------------------------------------------

    def recommend(
        self, customer: Customer | str, product: Product | str, sizes: Sequence[float]
    ) -> SizeRecommendation:
        """Each size's fit probabilities and the size most likely to fit.

        Args:
            customer: a ``Customer`` or just a customer id; an id the model has not seen is a new
                customer (her measurements are read if given, else the product's population).
            product: a ``Product`` or just a product id.
            sizes: the sizes the product comes in (numbers on the product's own scale).
        """
        customer = Customer(customer_id=customer) if isinstance(customer, str) else customer
        product = Product(product_id=product) if isinstance(product, str) else product
        if len(sizes) == 0:
            raise ValueError("sizes is empty: give the sizes the product comes in")
        request = {
            "customer_id": customer.customer_id,
            "product_id": product.product_id,
            "category": product.category,
            "body_type": customer.body_type,
            **{name: getattr(customer, name) for name in MEASUREMENTS},
        }
        frame = to_frame([{**request, "line": 0, "size": float(sizes[0]), "fit": "fit"}])
        proba, basis = self.size_probabilities(frame, [np.asarray(sizes, dtype=float)])
        options = [SizeOption(float(s), *map(float, p)) for s, p in zip(sizes, proba[0], strict=True)]
        best = int(np.argmax(proba[0][:, 1]))
        return SizeRecommendation(
            customer.customer_id, product.product_id, float(sizes[best]), basis[0], options
        )

    def size_probabilities(
        self, requests: pd.DataFrame, sizes: Sequence[np.ndarray]
    ) -> tuple[list[np.ndarray], list[Basis]]:
        """Fit probabilities of each request (a canonical row: customer, product) at each of its sizes.

        Returns one (S_i, 3) array per request and the basis each was computed on.
        """
        requests = self._with_stored_profiles(requests.reset_index(drop=True))
        customer = requests["customer_id"].map(self.space.customer_index).fillna(0).astype(int).to_numpy()
        has_history = self.space.has_history(customer)
        has_profile = (
            requests[list(MEASUREMENTS)].notna().any(axis=1).to_numpy()
            | (requests["body_type"] != "").to_numpy()
        )
        basis: list[Basis] = [
            "history" if h else "measurements" if m else "population"
            for h, m in zip(has_history, has_profile, strict=True)
        ]
        # Requests that know the customer: one row per (request, size).
        direct = [i for i, b in enumerate(basis) if b != "population"]
        rows = requests.loc[np.repeat(direct, [len(sizes[i]) for i in direct])].copy()
        rows["size"] = np.concatenate([sizes[i] for i in direct]) if direct else []
        flat = self.predict_proba(rows)
        out: list[np.ndarray] = [np.zeros((0, 3))] * len(requests)
        start = 0
        for i in direct:
            out[i] = flat[start : start + len(sizes[i])]
            start += len(sizes[i])
        # Requests that know nothing of the customer: the product's buyers stand in for her.
        for i in (i for i, b in enumerate(basis) if b == "population"):
            out[i] = self._population_probabilities(requests.iloc[i], sizes[i])
        return out, basis

    def _with_stored_profiles(self, requests: pd.DataFrame) -> pd.DataFrame:
        """Fill a known customer's missing measurements and body type from her latest record."""
        customer = requests["customer_id"].map(self.space.customer_index).fillna(0).astype(int).to_numpy()
        known = customer > 0
        if not known.any():
            return requests
        filled = requests.copy()
        stored = pd.DataFrame(
            self.space.customer_measures[customer], columns=list(MEASUREMENTS), index=requests.index
        )
        filled[list(MEASUREMENTS)] = filled[list(MEASUREMENTS)].where(
            filled[list(MEASUREMENTS)].notna() | ~known[:, None], stored
        )
        body = np.asarray([""] + self.space.body_types, dtype=object)[self.space.customer_body[customer]]
        filled["body_type"] = np.where((filled["body_type"] == "") & known, body, filled["body_type"])
        return filled

    def _population_probabilities(self, request: pd.Series, sizes: np.ndarray) -> np.ndarray:
        """(S, 3) probabilities averaged over the product's (or its category's, or anyone's) buyers."""
        product = self.space.product_index.get(request["product_id"], 0)
        if product:
            buyers = self.product_buyers[product]
        else:
            category = self.space.category_index.get(request["category"], 0)
            buyers = self.category_buyers[category]
        buyers = buyers[buyers >= 0]
        if len(buyers) == 0:
            buyers = self.category_buyers[0][self.category_buyers[0] >= 0]
        where = {"product_id": request["product_id"], "category": request["category"], "line": 0}
        rows = to_frame(
            [
                {**where, "customer_id": self.space.customers[b - 1], "size": s, "fit": "fit"}
                for b in buyers
                for s in sizes
            ]
        )
        proba = self.predict_proba(self._with_stored_profiles(rows))  # (B * S, 3)
        return proba.reshape(len(buyers), len(sizes), 3).mean(axis=0)

    # --- saving ----------------------------------------------------------------------------

    def save(self, path: Path | str) -> Path:
        """Write the model to one file, atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "format": FORMAT_VERSION,
            "net_args": self.net_args,
            "net": self.net.state_dict(),
            "space": self.space.to_state(),
            "calibration": asdict(self.calibration),
            "cuts": asdict(self.cuts),
            "product_buyers": torch.from_numpy(self.product_buyers),
            "category_buyers": torch.from_numpy(self.category_buyers),
        }
        torch_save_atomic(state, path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> SizeRecommender:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: size-fit model format {state.get('format')!r}, expected {FORMAT_VERSION}"
            )
        net = LatentSizeNet(**state["net_args"])
        net.load_state_dict(state["net"])
        return cls(
            net=net,
            space=FeatureSpace.from_state(state["space"]),
            calibration=OrdinalCalibration(**state["calibration"]),
            cuts=DecisionCuts(**state["cuts"]),
            product_buyers=state["product_buyers"].numpy(),
            category_buyers=state["category_buyers"].numpy(),
            net_args=state["net_args"],
        )
