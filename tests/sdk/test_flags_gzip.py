"""`/sdk/v2/flags` compressed when asked, with validators that keep working either way."""

from __future__ import annotations

import gzip
import json

import httpx

from tests.sdk.conftest import create, enable
from tests.support.server import Server


def test_flags__gzip_asked__compressed_same_flags_and_304_either_way(
    server: Server, sdk_deployment: dict[str, str], manage: httpx.Client, sdk_project: str
) -> None:
    # Given: enough flags for a body worth compressing
    for n in range(8):
        flag_id = create(manage, "flags", {"projectId": sdk_project, "key": f"gz-{n}",
                                           "deployments": [sdk_deployment["id"]],
                                           "description": "x" * 200})
        enable(manage, "flags", flag_id)
    url = f"{server.base_url}/sdk/v2/flags?v=0&eval_mode=remote"
    auth = {"Authorization": f"Api-Key {sdk_deployment['key']}"}

    # When
    with httpx.Client(headers=auth) as client:  # httpx itself asks for gzip: send the header by hand
        plain = client.get(url, headers={"Accept-Encoding": "identity"})
        raw = client.send(client.build_request("GET", url, headers={"Accept-Encoding": "gzip"}),
                          stream=True)
        compressed = b"".join(raw.iter_raw())
        raw.close()
        not_modified_gzip = client.get(url, headers={"Accept-Encoding": "gzip",
                                                     "If-None-Match": raw.headers["etag"]})
        not_modified_plain = client.get(url, headers={"Accept-Encoding": "identity",
                                                      "If-None-Match": plain.headers["etag"]})
        cross = client.get(url, headers={"Accept-Encoding": "identity",
                                         "If-None-Match": raw.headers["etag"]})

    # Then
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert raw.headers["content-encoding"] == "gzip"
    assert gzip.decompress(compressed) == plain.content
    assert len(compressed) < len(plain.content)
    assert {f["key"] for f in json.loads(plain.content)} >= {f"gz-{n}" for n in range(8)}
    assert raw.headers["etag"] != plain.headers["etag"]
    for response in (plain, raw, not_modified_gzip):
        assert "accept-encoding" in response.headers["vary"].lower()
    assert not_modified_gzip.status_code == 304
    assert not_modified_plain.status_code == 304
    assert cross.status_code == 304  # same flags, another encoding: still current


def test_flags__small_body__not_compressed(server: Server) -> None:
    # Given: a deployment of its own with nothing in it ("[]" is not worth compressing)
    project = server.create_project("gzip-empty")
    deployment = server.create_deployment(project, "empty")

    # When
    response = httpx.get(f"{server.base_url}/sdk/v2/flags",
                         headers={"Authorization": f"Api-Key {deployment['key']}",
                                  "Accept-Encoding": "gzip"})

    # Then
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.json() == []
