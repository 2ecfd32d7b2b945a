"""``POST /v1/size-fit``: per-size fit probabilities for a customer and a product, and the size to buy."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException

from product.sizefit.recommend import Customer, Product
from serving.deps import State
from serving.schemas import SizeFitRequest, SizeFitResponse

router = APIRouter(prefix="/v1", tags=["size-fit"])


@router.post("/size-fit", responses={404: {"description": "size-fit is not enabled on this server"}})
def size_fit(body: SizeFitRequest, state: State) -> SizeFitResponse:
    """A known customer is judged from her history; a new one from her measurements; with neither,
    from the product's (or its category's) past buyers. ``basis`` says which."""
    if state.sizefit is None:
        raise HTTPException(404, "size-fit is not enabled on this server: set ALIGNREC_SIZEFIT_MODEL")
    customer = Customer(customer_id=body.customer_id, **body.measurements.model_dump())
    product = Product(product_id=body.product_id, category=body.category)
    answer = state.sizefit.recommend(customer, product, body.sizes)
    return SizeFitResponse.model_validate(asdict(answer), strict=False)
