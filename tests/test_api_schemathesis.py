"""Property-based checks of the API against its own OpenAPI document (schemathesis, through the WSGI app):
no server errors, documented status codes and content types, answers that match their schemas. Runs with
a key holding every scope and a few firms on file, some listed, so that checks also answer 200."""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from credit.clock import today
from credit.models import Listing
from credit.services.rulesets import ensure_default_ruleset
from credit.web.api.openapi import openapi_document
from tests.factories import make_firm
from tests.test_api_events import bearer, issue_key

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(app, tx):
    app.config["API_RATE_LIMIT"] = 0  # hypothesis sends hundreds of requests
    with tx() as s:
        ensure_default_ruleset(s)
        firms = [make_firm(s) for _ in range(3)]
        s.add(
            Listing(
                firm_id=firms[0].id,  # type: ignore[arg-type]
                kind="black",
                status="listed",
                reason="测试",
                basis={},
                rule_set_version=1,
                listed_from=today() - timedelta(days=10),
            )
        )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


# The schemathesis pytest plugin does not run under pytest 9 (it reads `Function._nodeid`): each operation
# is driven with hypothesis directly instead.
OPERATIONS = [(path, method) for path, item in openapi_document()["paths"].items() for method in item]


@pytest.fixture
def key_headers(tx) -> dict[str, str]:
    return bearer(issue_key(tx, scopes="check,record,watch"))


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_api_conforms_to_its_document(api_schema, key_headers, path, method):
    operation = api_schema[path][method.upper()]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case):
        case.call_and_validate(headers=key_headers, checks=CHECKS)

    run()


def test_answers_for_firms_on_file_conform(api_schema, key_headers, tx):
    """Random codes are never on file: check real firms explicitly, so 200 answers are validated too."""
    from sqlmodel import select

    from credit.models import Firm

    with tx() as s:
        usccs = [f.uscc for f in s.exec(select(Firm))]
    for purpose in ("procurement", "permit", "award"):
        for uscc in usccs:
            case = api_schema["/credit/{uscc}"]["GET"].Case(path_parameters={"uscc": uscc}, query={"purpose": purpose})
            assert case.call_and_validate(headers=key_headers, checks=CHECKS).status_code == 200
        case = api_schema["/credit/batch"]["POST"].Case(body={"usccs": [*usccs, "bad"], "purpose": purpose})
        assert case.call_and_validate(headers=key_headers, checks=CHECKS).status_code == 200
