"""Latent-size ordinal fit model (after Misra, Wan, McAuley, RecSys 2018, and Sembium et al., 2017).

Size step ``s`` of product ``p`` in category ``k`` has the latent true size

    t(p, s) = exp(a_k) * s + b_k + v_p            (v_p > 0: the product runs large)

and customer ``c`` the latent true size ``u_c``. A purchase has the fit score ``z = t(p, s) - u_c +
r(p)``, with ``r`` a small MLP on what is known of the product's past purchases (label shares and,
with reviews, what its reviews say). Outcomes are ordinal, small < fit < large, through cumulative
logits with cut-points t1 < t2:  P(y <= small) = sigmoid(t1 - z),  P(y <= fit) = sigmoid(t2 - z).

The customer's size is inferred from her past purchases, each one evidence of where her size is:

    m_j = t(p_j, s_j) + shift(y_j) + w . review_j       (a "too small" purchase: she is larger)
    u_c = n/(n + kappa) * mean_j m_j + kappa/(n + kappa) * g(measurements, body type)

so a customer with no history falls back to her measurements ``g``, and one with neither to the
population (``g`` of nothing). Unlike Misra et al. there is no free parameter per customer: most
customers have one or two purchases, and in our trials a free size per customer memorised them
(held-out NLL got worse); the inferred size also serves a customer's next request right after
her first purchase, without retraining. The review term is
the paper's idea: a review saying "a bit snug" under a ``fit`` label still moves her size up, and
says how far.

The loss is the class-weighted ordinal NLL (fit dominates the data), L2 on the product offsets
and, with reviews, each purchase's own review as a soft second label.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from product.sizefit.features import FitInputs


class LatentSizeNet(nn.Module):
    def __init__(
        self,
        num_products: int,
        num_categories: int,
        num_body_types: int,
        num_profile: int,
        num_product_dense: int,
        review_dim: int,
        hidden: int = 32,
        dropout: float = 0.1,
    ):
        super().__init__()
        # Index 0 of every table is "unknown": an unknown product's offset stays at zero.
        self.product_offset = nn.Embedding(num_products + 1, 1, padding_idx=0)
        self.category_offset = nn.Embedding(num_categories + 1, 1)
        self.category_log_scale = nn.Embedding(num_categories + 1, 1)
        for table in (self.product_offset, self.category_offset, self.category_log_scale):
            nn.init.zeros_(table.weight)
        self.body_embedding = nn.Embedding(num_body_types + 1, 4)
        self.category_embedding = nn.Embedding(num_categories + 1, 4)
        self.prior = nn.Sequential(  # g: size from measurements and body type
            nn.Linear(num_profile + 4, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )
        self.product_context = nn.Sequential(  # r: what the product's past purchases say
            nn.Linear(num_product_dense + 4, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )
        self.label_shift = nn.Parameter(torch.tensor([1.0, 0.0, -1.0]))  # small, fit, large
        self.review_shift = nn.Linear(review_dim, 1, bias=False) if review_dim else None
        if self.review_shift is not None:
            nn.init.zeros_(self.review_shift.weight)
        self.log_kappa = nn.Parameter(torch.tensor(0.0))
        self.cut_low = nn.Parameter(torch.tensor(-1.0))
        self.cut_log_gap = nn.Parameter(torch.tensor(0.7))  # t2 - t1 = exp(.) keeps the order

    def cut_points(self) -> torch.Tensor:
        return torch.stack([self.cut_low, self.cut_low + self.cut_log_gap.exp()])  # (2,)

    def true_size(self, product: torch.Tensor, category: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """t(p, s) for any shape of indices and steps."""
        scale = self.category_log_scale(category).squeeze(-1).exp()
        return (
            scale * step
            + self.category_offset(category).squeeze(-1)
            + self.product_offset(product).squeeze(-1)
        )

    def customer_size(self, x: FitInputs) -> torch.Tensor:
        """u_c (N,): her past purchases as evidence, shrunk towards her measurements' estimate."""
        evidence = self.true_size(x.hist_product, x.hist_category, x.hist_step)  # (N, H)
        evidence = evidence + self.label_shift[x.hist_label]  # (N, H)
        if self.review_shift is not None:
            evidence = evidence + self.review_shift(x.hist_review).squeeze(-1)  # (N, H)
        mask = x.hist_mask.float()  # (N, H)
        n = mask.sum(1)  # (N,)
        history = (evidence * mask).sum(1) / n.clamp_min(1.0)  # (N,)
        prior = self.prior(torch.cat([x.profile, self.body_embedding(x.body_type)], dim=1)).squeeze(1)  # (N,)
        trust = n / (n + self.log_kappa.exp())  # (N,) 0 without history
        return trust * history + (1 - trust) * prior

    def score(self, x: FitInputs) -> torch.Tensor:
        """Fit score z (N,): negative means the product is small for the customer."""
        context = torch.cat([x.product_dense, self.category_embedding(x.category)], dim=1)
        product = self.true_size(x.product, x.category, x.step) + self.product_context(context).squeeze(1)
        return product - self.customer_size(x)  # (N,)

    def log_proba(self, x: FitInputs) -> torch.Tensor:
        """Log P(small), P(fit), P(large): (N, 3)."""
        return ordinal_log_proba(self.score(x), self.cut_points())

    def loss(
        self,
        x: FitInputs,
        y: torch.Tensor,
        class_weight: torch.Tensor,
        l2_product: float,
        review_target: torch.Tensor | None = None,
        review_weight: float = 0.0,
    ) -> torch.Tensor:
        """Class-weighted ordinal NLL + L2 on the batch's product offsets + (with reviews) the
        cross-entropy to what each purchase's own review says about its fit.

        Args:
            x: a batch of B records; y: (B,) labels; class_weight: (3,).
            review_target: (B, 3) each record's review signal, zero rows where there is none.
        """
        log_proba = self.log_proba(x)  # (B, 3)
        loss = F.nll_loss(log_proba, y, weight=class_weight)
        loss = loss + l2_product * self.product_offset(x.product).pow(2).mean()
        if review_target is not None:
            loss = loss - review_weight * (review_target * log_proba).sum(1).mean()
        return loss


def ordinal_log_proba(z: torch.Tensor, cuts: torch.Tensor) -> torch.Tensor:
    """Cumulative-logit probabilities for scores z (N,) and increasing cut-points (2,): (N, 3) logs."""
    below = torch.sigmoid(cuts[None, :] - z[:, None])  # (N, 2): P(y <= small), P(y <= fit)
    proba = torch.stack([below[:, 0], below[:, 1] - below[:, 0], 1 - below[:, 1]], dim=1)  # (N, 3)
    return proba.clamp_min(1e-7).log()
