"""Remote evaluation finds the user's cohorts itself: no cohort_ids need be sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sdk.conftest import create, enable
from tests.support.server import Server


def cohort_condition(cohort_id: str, op: str = "set contains any") -> dict[str, Any]:
    return {"type": "property", "prop": "cohort_ids", "op": op, "values": [cohort_id]}


@pytest.fixture(scope="module")
def setup(server: Server, manage: httpx.Client, sdk_project: str) -> dict[str, str]:
    deployment = server.create_deployment(sdk_project, "cohort-resolution")
    made = {}
    for name, fields in (("vips", {"memberIds": ["ann", "bob"]}),
                         ("blocked", {"memberIds": ["bob"]}),
                         ("big orgs", {"groupType": "org", "memberIds": ["acme"]})):
        response = manage.post("/api/1/cohorts", json={"projectId": sdk_project, "name": name, **fields})
        made[name] = response.json()["id"]
    flag_id = create(manage, "flags", {
        "projectId": sdk_project, "key": "cohort-targeted", "deployments": [deployment["id"]],
        "variants": [{"key": "vip"}],
        "targetSegments": [
            {"name": "vips not blocked", "percentage": 100, "rolloutWeights": {"vip": 1},
             "conditions": [cohort_condition(made["vips"]),
                            cohort_condition(made["blocked"], "set does not contain any")]},
        ],
    })
    # Group cohorts: a cohort inclusion on a flag bucketed by the "org" group type.
    org_flag_id = create(manage, "flags", {
        "projectId": sdk_project, "key": "org-targeted", "deployments": [deployment["id"]],
        "bucketingUnit": "org", "variants": [{"key": "org"}],
    })
    manage.post(f"/api/1/flags/{org_flag_id}/variants/org/cohorts",
                json={"inclusions": [made["big orgs"]]}).raise_for_status()
    enable(manage, "flags", flag_id)
    enable(manage, "flags", org_flag_id)
    return {"key": deployment["key"], **made}


def variant(server: Server, key: str, user: dict[str, Any], flag: str = "cohort-targeted") -> str:
    response = httpx.post(f"{server.base_url}/sdk/v2/vardata", json=user,
                          headers={"Authorization": f"Api-Key {key}"})
    assert response.status_code == 200, response.text
    return str(response.json()[flag]["key"])


def test_remote__members_without_cohort_ids__resolved_on_the_server(server: Server, setup: dict[str, str]) -> None:
    assert variant(server, setup["key"], {"user_id": "ann"}) == "vip"
    assert variant(server, setup["key"], {"user_id": "bob"}) == "off"  # also in "blocked"
    assert variant(server, setup["key"], {"user_id": "carl"}) == "off"


def test_remote__device_id_only__not_a_cohort_member(server: Server, setup: dict[str, str]) -> None:
    assert variant(server, setup["key"], {"device_id": "ann"}) == "off"


def test_remote__cohort_ids_sent_by_the_sdk__still_honoured(server: Server, setup: dict[str, str]) -> None:
    assert variant(server, setup["key"], {"user_id": "carl", "cohort_ids": [setup["vips"]]}) == "vip"
    assert variant(server, setup["key"], {"user_id": "ann", "cohort_ids": [setup["blocked"]]}) == "off"


def test_remote__group_cohort__matched_by_the_groups_name(server: Server, setup: dict[str, str]) -> None:
    assert variant(server, setup["key"], {"user_id": "x", "groups": {"org": ["acme"]}}, "org-targeted") == "org"
    assert variant(server, setup["key"], {"user_id": "x", "groups": {"org": ["initech"]}}, "org-targeted") == "off"
    # a user id equal to the group name is not the group
    assert variant(server, setup["key"], {"user_id": "acme"}, "org-targeted") == "off"


def test_remote__membership_change__seen_by_the_next_evaluation(
    server: Server, manage: httpx.Client, setup: dict[str, str]
) -> None:
    # Given
    assert variant(server, setup["key"], {"user_id": "dora"}) == "off"
    # When
    manage.post(f"/api/1/cohorts/{setup['vips']}/members", json={"memberIds": ["dora"]}).raise_for_status()
    # Then
    assert variant(server, setup["key"], {"user_id": "dora"}) == "vip"
    manage.request("DELETE", f"/api/1/cohorts/{setup['vips']}/members",
                   json={"memberIds": ["dora"]}).raise_for_status()
    assert variant(server, setup["key"], {"user_id": "dora"}) == "off"


def test_remote__archived_cohort__has_no_members(
    server: Server, manage: httpx.Client, sdk_project: str, setup: dict[str, str]
) -> None:
    # Given
    manage.patch(f"/api/1/cohorts/{setup['blocked']}", json={"archive": True}).raise_for_status()
    try:
        # Then bob is no longer excluded
        assert variant(server, setup["key"], {"user_id": "bob"}) == "vip"
    finally:
        manage.patch(f"/api/1/cohorts/{setup['blocked']}", json={"archive": False}).raise_for_status()


@pytest.mark.parametrize("user_id", ["ann\u0000", "a" * 5000, 42])
def test_remote__user_id_no_member_could_have__evaluates_without_cohorts(
    server: Server, setup: dict[str, str], user_id: object
) -> None:
    assert variant(server, setup["key"], {"user_id": user_id}) == "off"
