"""A management write is what the very next evaluation sees, and open streams get it pushed."""

from __future__ import annotations

import logging
import time

import httpx
from amplitude_experiment import LocalEvaluationClient, LocalEvaluationConfig, User

from tests.sdk.conftest import create, enable, release
from tests.support.server import Server


def test_management_write__next_vardata_request__sees_it(
    server: Server, manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str]
) -> None:
    # Given an enabled flag served to the deployment
    flag_id = create(manage, "flags", {"projectId": sdk_project, "key": "fresh-flag",
                                       "deployments": [sdk_deployment["id"]], "bucketingKey": "device_id"})
    enable(manage, "flags", flag_id)
    headers = {"Authorization": f"Api-Key {sdk_deployment['key']}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as sdk:
        for percentage, expected in ((100, "on"), (0, "off"), (100, "on"), (0, "off")):
            # When
            manage.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": percentage}).raise_for_status()
            answer = sdk.post("/sdk/v2/vardata", json={"device_id": "d-1"}).json()
            # Then
            assert answer["fresh-flag"]["key"] == expected


def test_stream__change_through_management_api__reaches_sdk_within_a_second(
    server: Server, manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str]
) -> None:
    # Given a local-evaluation SDK following the stream
    flag_id = create(manage, "flags", {"projectId": sdk_project, "key": "streamed-flag",
                                       "deployments": [sdk_deployment["id"]], "evaluationMode": "local",
                                       "bucketingKey": "device_id", "rolloutPercentage": 100})
    enable(manage, "flags", flag_id)
    quiet = logging.getLogger("flagyard.tests.stream")
    quiet.setLevel(logging.ERROR)
    client = LocalEvaluationClient(sdk_deployment["key"], LocalEvaluationConfig(
        server_url=server.base_url, stream_updates=True, stream_server_url=server.base_url,
        flag_config_polling_interval_millis=600_000, logger=quiet))
    client.start()
    user = User(device_id="d-1")
    try:
        assert client.evaluate_v2(user, {"streamed-flag"})["streamed-flag"].key == "on"
        # When
        manage.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": 0}).raise_for_status()
        changed_at = time.monotonic()
        seen = None
        while time.monotonic() - changed_at < 3:
            if client.evaluate_v2(user, {"streamed-flag"})["streamed-flag"].key == "off":
                seen = time.monotonic() - changed_at
                break
            time.sleep(0.02)
        # Then: polling is every 10 minutes here, so only the stream can have brought it
        assert seen is not None and seen < 1.0, seen
    finally:
        release(client)
