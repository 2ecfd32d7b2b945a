import pytest

from product.sizefit.recommend import SizeRecommender


def test_known_customer_gets_the_models_answer(client, served):
    expected = SizeRecommender.load(served.sizefit).recommend(
        served.sizefit_customer, served.sizefit_product, [4, 6, 8]
    )
    body = client.post(
        "/v1/size-fit",
        json={
            "customer_id": served.sizefit_customer,
            "product_id": served.sizefit_product,
            "sizes": [4, 6, 8],
        },
    ).json()
    assert body["basis"] == "history" == expected.basis
    assert body["recommended_size"] == expected.recommended_size
    assert [o["size"] for o in body["options"]] == [4, 6, 8]
    for option, want in zip(body["options"], expected.options, strict=True):
        assert option["p_fit"] == pytest.approx(want.p_fit)
        assert option["p_small"] + option["p_fit"] + option["p_large"] == pytest.approx(1, abs=1e-5)


def test_new_customer_by_measurements_or_population(client, served):
    measured = client.post(
        "/v1/size-fit",
        json={
            "measurements": {"height_cm": 165, "weight_kg": 60},
            "product_id": served.sizefit_product,
            "sizes": [8],
        },
    ).json()
    assert measured["basis"] == "measurements"
    nobody = client.post("/v1/size-fit", json={"product_id": "new-product", "sizes": [8, 10]}).json()
    assert nobody["basis"] == "population" and nobody["recommended_size"] in (8, 10)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"product_id": "p", "sizes": []}, ["body", "sizes"]),
        ({"product_id": "p", "sizes": ["M"]}, ["body", "sizes", 0]),
        ({"sizes": [8]}, ["body", "product_id"]),
        (
            {"product_id": "p", "sizes": [8], "measurements": {"height_cm": 500}},
            ["body", "measurements", "height_cm"],
        ),
        ({"product_id": "p", "sizes": [8], "measurements": {"shoe": 9}}, ["body", "measurements", "shoe"]),
    ],
)
def test_invalid_requests_name_the_field(client, body, field):
    response = client.post("/v1/size-fit", json=body)
    assert response.status_code == 422
    assert field in [error["loc"] for error in response.json()["detail"]]


def test_size_fit_disabled(make_client):
    response = make_client(sizefit_model=None).post("/v1/size-fit", json={"product_id": "p", "sizes": [8]})
    assert response.status_code == 404 and "ALIGNREC_SIZEFIT_MODEL" in response.json()["detail"]
