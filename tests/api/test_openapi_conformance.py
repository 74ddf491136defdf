"""schemathesis over every management route of both generations, against a live server with a
real key: no 5xx, and every answer matches the status codes and bodies /openapi.json declares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.server import Server, fresh_database_url, run_cli, running_server

EXAMPLES_PER_OPERATION = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    # A server of its own: generated requests may edit any id they guess.
    url = fresh_database_url(tmp_path_factory.mktemp("fuzz"))
    project = run_cli(url, "projects", "create", "--name", "fuzz").stdout.strip()
    run_cli(url, "deployments", "create", "--project", project, "--label", "fuzz")
    key = run_cli(url, "keys", "create", "--name", "fuzzer").stdout.strip()
    with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
        yield server, key


@pytest.fixture(scope="module")
def management_schema(fuzzed_server: tuple[Server, str]) -> schemathesis.BaseSchema:
    server, _ = fuzzed_server
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    return schema.include(path_regex=r"^/(api/1|experiments|flags|deployments)(/|$)")


def test_management_api__generated_requests__no_5xx_and_answers_match_the_schema(
    management_schema: schemathesis.BaseSchema, fuzzed_server: tuple[Server, str]
) -> None:
    # Given a real key and every management operation of /openapi.json
    _, key = fuzzed_server
    headers = {"Authorization": f"Bearer {key}"}
    operations = [result.ok() for result in management_schema.get_all_operations()]
    sent = 0

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            nonlocal sent
            # When a generated request is sent, Then the answer conforms (raises otherwise)
            case.call_and_validate(headers=headers, checks=CHECKS)
            sent += 1

        check()

    # Then: every operation was exercised
    assert len(operations) >= 90
    print(f"schemathesis: {sent} requests over {len(operations)} operations")
