"""Schemathesis against the app's own OpenAPI schema: generated requests, valid and invalid, to
every operation get no server error, and 2xx answers match the documented response schema.

Kept short (a few examples per operation and mode) so that the default suite stays fast. The
operations are driven through Hypothesis directly: schemathesis's pytest plugin does not load under
pytest 9.
"""

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

EXAMPLES = 8


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(make_client, admin, mode):
    client = make_client()  # started: its lifespan loaded the models that schemathesis's calls use
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/recommendations", "/v1/feedback", "/v1/admin/reload"}
    statuses: list[int] = []
    nothing_to_negate = set()
    for operation in operations:

        @given(operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case) -> None:
            headers = admin if case.path.startswith("/v1/admin") else None
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, case.body, response.text)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Unsatisfiable:  # no parameters or body: no invalid request to make
            nothing_to_negate.add(operation.path)
    assert statuses and max(statuses) < 500
    assert nothing_to_negate <= {"/healthz", "/readyz", "/metrics"}
