"""What each role may do in the console: viewers read, editors change flags, admins manage people and keys."""

from __future__ import annotations

import re

import httpx

from tests.console.conftest import Browserless
from tests.factories import create_linked
from tests.support.server import Server


def test_viewer__sees_no_write_controls_and_a_forged_write_is_403(
    viewer: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    flag = create_linked(api, project_id, deployment["id"], "flags")
    page = viewer.client.get(f"/console/flags/{flag}")
    assert page.status_code == 200
    assert 'method="post"' not in page.text.replace('action="/console/sign-out"', "").split("</header>", 1)[1]
    listing = viewer.client.get(f"/console/p/{project_id}/flags")
    assert "New flag" not in listing.text
    # A write crafted by hand, with a valid session and CSRF token, is refused by the service
    for action, data in (("enabled", {"enabled": "true"}), ("settings", {"name": "x", "rolloutPercentage": "5"}),
                         ("variants", {"key": "sneaky"})):
        answer = viewer.client.post(f"/console/flags/{flag}/{action}", data={"csrf_token": viewer.csrf, **data})
        assert answer.status_code == 403, answer.text
    created = viewer.client.post(f"/console/p/{project_id}/flags", data={"csrf_token": viewer.csrf, "key": "nope"})
    assert created.status_code == 403
    assert api.get(f"/api/1/flags/{flag}").json()["version"] == 1


def test_editor__changes_flags_as_themselves_but_cannot_manage_users_or_keys(
    editor: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    flag = create_linked(api, project_id, deployment["id"], "flags")
    answer = editor.client.post(f"/console/flags/{flag}/enabled", data={"csrf_token": editor.csrf, "enabled": "true"})
    assert answer.status_code == 303
    # The version records the person, as the API shows it
    document = api.get(f"/api/1/flags/{flag}").json()
    assert document["enabled"] is True and document["lastModifiedBy"] == editor.person.email
    assert api.get(f"/api/1/flags/{flag}/versions/2").json()["createdBy"] == editor.person.email
    # Users and keys are for admins
    assert editor.client.get("/console/users").status_code == 403
    assert editor.client.get("/console/keys").status_code == 403
    forged = editor.client.post("/console/users", data={"csrf_token": editor.csrf, "email": "x@example.com",
                                                        "role": "admin", "password": "long enough"})
    assert forged.status_code == 403
    assert editor.client.post("/console/keys", data={"csrf_token": editor.csrf, "name": "k"}).status_code == 403
    assert 'href="/console/users"' not in editor.client.get(f"/console/p/{project_id}/flags").text


def test_admin__creates_a_user_who_can_sign_in_and_a_key_shown_once(admin: Browserless, server: Server) -> None:
    created = admin.client.post("/console/users", data={"csrf_token": admin.csrf, "email": "new-person@example.com",
                                                        "role": "viewer", "password": "long enough"})
    assert created.status_code == 303
    again = admin.client.post("/console/users", data={"csrf_token": admin.csrf, "email": "new-person@example.com",
                                                      "role": "viewer", "password": "long enough"})
    assert again.status_code == 409 and "already exists" in again.text
    bad_role = admin.client.post("/console/users", data={"csrf_token": admin.csrf, "email": "p3@example.com",
                                                         "role": "owner", "password": "long enough"})
    assert bad_role.status_code == 400 and "role must be one of admin, editor, viewer" in bad_role.text
    short = admin.client.post("/console/users", data={"csrf_token": admin.csrf, "email": "p2@example.com",
                                                      "role": "viewer", "password": "short"})
    assert short.status_code == 400 and "password must be at least 8 characters" in short.text

    key_page = admin.client.post("/console/keys", data={"csrf_token": admin.csrf, "name": "from-console",
                                                        "readOnly": "true"})
    assert key_page.status_code == 200
    secret = key_page.text.split('<code id="new-secret">', 1)[1].split("</code>", 1)[0]
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}) as client:
        assert client.get("/api/1/flags").status_code == 200
        assert client.post("/api/1/flags", json={"projectId": "1", "key": "x"}).status_code == 403
    assert secret not in admin.client.get("/console/keys").text


def test_refusal__shows_the_api_message_next_to_the_field(
    editor: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    flag = create_linked(api, project_id, deployment["id"], "flags")
    api_answer = api.patch(f"/api/1/flags/{flag}", json={"rolloutPercentage": 150})
    message = api_answer.json()["error"]["message"]
    page = editor.client.post(f"/console/flags/{flag}/settings", data={
        "csrf_token": editor.csrf, "name": "n", "description": "", "rolloutPercentage": "150",
        "evaluationMode": "remote", "bucketingKey": "amplitude_id", "tags": ""})
    assert page.status_code == 400
    assert f'id="err-settings-rolloutPercentage" role="alert">{message}</p>' in page.text
    assert 'aria-invalid="true" aria-describedby="err-settings-rolloutPercentage"' in page.text
    bad_json = editor.client.post(f"/console/flags/{flag}/variants", data={
        "csrf_token": editor.csrf, "key": "v2", "payload": "{not json"})
    assert bad_json.status_code == 400 and "payload is not valid JSON" in bad_json.text
    assert api.get(f"/api/1/flags/{flag}").json()["version"] == 1


def test_rotating_a_deployment_key__old_key_stops_new_key_serves(
    editor: Browserless, server: Server, project_id: str
) -> None:
    made = editor.client.post(f"/console/p/{project_id}/deployments",
                              data={"csrf_token": editor.csrf, "label": "rotating", "type": "server"})
    assert made.status_code == 303
    page = editor.client.get(f"/console/p/{project_id}/deployments").text
    deployment_id, old_key = _row(page, "rotating")

    def flags(key: str) -> int:
        return httpx.get(f"{server.base_url}/sdk/v2/flags", headers={"Authorization": f"Api-Key {key}"}).status_code

    assert flags(old_key) == 200
    rotated = editor.client.post(f"/console/p/{project_id}/deployments/{deployment_id}/rotate",
                                 data={"csrf_token": editor.csrf})
    assert rotated.status_code == 303
    _, new_key = _row(editor.client.get(f"/console/p/{project_id}/deployments").text, "rotating")
    assert new_key != old_key and new_key.startswith("server-")
    assert flags(new_key) == 200
    assert flags(old_key) == 401


def _row(html: str, label: str) -> tuple[str, str]:
    """(id, SDK key) of the deployment row with this label."""
    row = next(r for r in html.split("<tr>") if f"<td>{label} " in r)
    found = re.search(r'<code id="key-(\d+)">([^<]+)</code>', row)
    assert found
    return found.group(1), found.group(2)
