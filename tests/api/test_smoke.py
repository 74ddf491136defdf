from __future__ import annotations

import httpx

from tests.factories import create_flag


def test_flag_create__then_get__reads_back_defaults(api: httpx.Client, project_id: str) -> None:
    # Given
    flag_id = create_flag(api, project_id)
    # When
    body = api.get(f"/api/1/flags/{flag_id}").json()
    # Then
    assert body["enabled"] is False
    assert [v["key"] for v in body["variants"]] == ["on"]
    assert body["version"] == 1
