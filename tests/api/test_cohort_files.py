"""POST /api/1/cohorts/{id}/members/file: a whole file of ids added, removed or replacing the
members in one transaction; a bad line anywhere is a 400 naming it, nothing changed."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.factories import assert_error, create_cohort, get_ok
from tests.support.server import Server


def send(api: httpx.Client, cohort_id: str, content: bytes, **params: Any) -> httpx.Response:
    return api.post(f"/api/1/cohorts/{cohort_id}/members/file", params=params, content=content,
                    headers={"Content-Type": "text/plain"})


def members(server: Server, deployment: dict[str, str], admin_key: str, cohort_id: str) -> list[str]:
    token = base64.b64encode(f"{deployment['key']}:{admin_key}".encode()).decode()
    answer = httpx.get(f"{server.base_url}/sdk/v1/cohort/{cohort_id}", params={"maxCohortSize": 10_000_000},
                       headers={"Authorization": f"Basic {token}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    return sorted(answer.json()["memberIds"])


def test_add_remove_replace__whole_files__counted_and_stored(
        api: httpx.Client, server: Server, project_id: str, deployment: dict[str, str], admin_key: str) -> None:
    # Given
    cohort = create_cohort(api, project_id, memberIds=["kept"])
    # When a file of 30,000 ids (one already a member, one repeated, a blank line) is added
    content = "".join(f"u{i}\n" for i in range(30_000)).encode() + b"\nkept\nu1\n"
    added = send(api, cohort, content)
    # Then
    assert added.status_code == 200, added.text
    assert added.json() == {"mode": "add", "ids": 30_002, "changed": 30_000, "size": 30_001}
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 30_001

    removed = send(api, cohort, b"u0\nu1\nnobody\n", mode="remove")
    assert removed.json() == {"mode": "remove", "ids": 3, "changed": 2, "size": 29_999}

    replaced = send(api, cohort, b"user_id,plan\nann,pro\n\"bob, jr\",free\n", mode="replace", format="csv",
                    header="true")
    assert replaced.json() == {"mode": "replace", "ids": 2, "changed": 2, "size": 2}
    assert members(server, deployment, admin_key, cohort) == ["ann", "bob, jr"]


def test_bad_lines__400_naming_them__nothing_changed(api: httpx.Client, project_id: str) -> None:
    # Given
    cohort = create_cohort(api, project_id, memberIds=["u1"])
    before = get_ok(api, f"/api/1/cohorts/{cohort}")
    # When
    response = send(api, cohort, b"ok\n" + b"x" * 1001 + b"\nok2\nbad\xff\n", mode="replace")
    # Then
    assert_error(response, 400, "file has 2 bad lines, so nothing was changed: line 2 holds an id longer "
                                "than 1000 bytes; line 4 is not valid UTF-8", code="invalid_member_file")
    assert get_ok(api, f"/api/1/cohorts/{cohort}") == before


def test_past_the_usual_body_limit__accepted(api: httpx.Client, project_id: str) -> None:
    cohort = create_cohort(api, project_id, memberIds=[])
    content = "".join(f"member-{i:020d}\n" for i in range(60_000)).encode()
    assert len(content) > 1024 * 1024

    response = send(api, cohort, content)

    assert response.status_code == 200, response.text
    assert response.json()["size"] == 60_000


@pytest.mark.parametrize(("params", "words"), [
    ({"mode": "merge"}, ("mode",)),
    ({"format": "xlsx"}, ("format",)),
])
def test_unknown_mode_or_format__400_naming_it(api: httpx.Client, project_id: str, params: dict[str, str],
                                                words: tuple[str, ...]) -> None:
    cohort = create_cohort(api, project_id, memberIds=[])

    assert_error(send(api, cohort, b"a\n", **params), 400, *words)
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 0


def test_keys__read_only_403__unknown_cohort_404(api: httpx.Client, read_only_api: httpx.Client,
                                                 project_id: str) -> None:
    cohort = create_cohort(api, project_id, memberIds=[])

    assert_error(send(read_only_api, cohort, b"a\n"), 403)
    assert_error(send(api, "nosuchcohort", b"a\n"), 404, "cohort nosuchcohort not found")
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 0
