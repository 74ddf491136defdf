"""POST /2/httpapi and /batch: Amplitude's answers, good input and bad, and nothing half-stored."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.server import Server, running_server


@pytest.fixture(scope="module")
def events_key(server: Server) -> dict[str, str]:
    project = server.create_project("ingestion")
    return {"project": project, **server.create_deployment(project, "ingestion")}


@pytest.fixture(scope="module")
def db(server: Server) -> Iterator[sa.Engine]:
    engine = sa.create_engine(server.database_url)
    yield engine
    engine.dispose()


def stored(db: sa.Engine, project: str, user_prefix: str) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT body FROM events WHERE project_id = :p AND user_key LIKE :u ORDER BY id"),
            {"p": int(project), "u": user_prefix + "%"}).scalars().all()
    return [json.loads(r) for r in rows]


def post(server: Server, body: Any, path: str = "/2/httpapi", **kw: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.post(server.base_url + path, content=body, timeout=30, **kw)
    return httpx.post(server.base_url + path, json=body, timeout=30, **kw)


def user() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("path", ["/2/httpapi", "/batch"])
def test_upload__valid_events__acknowledged_with_code_and_stored(
        server: Server, events_key: dict[str, str], db: sa.Engine, path: str) -> None:
    # Given two events, one without a time
    who = user()
    events = [{"event_type": "signup", "user_id": who, "time": 1_700_000_000_000, "insert_id": f"{who}-1",
               "event_properties": {"plan": "pro"}},
              {"event_type": "login", "device_id": who, "user_properties": {"$set": {"a": 1}}}]
    # When uploaded
    response = post(server, {"api_key": events_key["key"], "events": events}, path)
    # Then Amplitude's success body, and both events stored whole
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200 and body["events_ingested"] == 2
    assert body["payload_size_bytes"] == len(response.request.content)
    assert isinstance(body["server_upload_time"], int)
    rows = stored(db, events_key["project"], who)
    assert [r["event_type"] for r in rows] == ["signup", "login"]
    assert rows[0]["event_properties"] == {"plan": "pro"} and isinstance(rows[1]["time"], int)


def test_upload__same_insert_id_twice__stored_once(
        server: Server, events_key: dict[str, str], db: sa.Engine) -> None:
    who = user()
    event = {"event_type": "pay", "user_id": who, "device_id": "device-1", "insert_id": "same"}
    for _ in range(2):
        assert post(server, {"api_key": events_key["key"], "events": [event, event]}).json()["code"] == 200
    assert len(stored(db, events_key["project"], who)) == 1


def test_upload__gzip_body__read_like_plain(server: Server, events_key: dict[str, str], db: sa.Engine) -> None:
    who = user()
    raw = json.dumps({"api_key": events_key["key"], "events": [{"event_type": "z", "user_id": who}]}).encode()
    response = post(server, gzip.compress(raw), headers={"Content-Encoding": "gzip",
                                                          "Content-Type": "application/json"})
    assert response.json()["code"] == 200
    assert len(stored(db, events_key["project"], who)) == 1


@pytest.mark.parametrize(("body", "expected"), [
    (b"", {"code": 400, "error": "Missing request body"}),
    (b"{not json", {"code": 400, "error": "Invalid JSON request body"}),
    (b"[1, 2]", {"code": 400, "error": "Invalid JSON request body"}),
    ({"events": [{"event_type": "a", "user_id": "abcdef"}]},
     {"code": 400, "error": "Request missing required field", "missing_field": "api_key"}),
    ({"api_key": "KEY"}, {"code": 400, "error": "Request missing required field", "missing_field": "events"}),
    ({"api_key": "KEY", "events": "nope"},
     {"code": 400, "error": "Request missing required field", "missing_field": "events"}),
])
def test_upload__malformed_request__refused_as_a_whole(
        server: Server, events_key: dict[str, str], body: Any, expected: dict[str, Any]) -> None:
    if isinstance(body, dict) and body.get("api_key") == "KEY":
        body = {**body, "api_key": events_key["key"]}
    response = post(server, body)
    assert response.status_code == 400
    assert response.json() == expected


def test_upload__some_events_invalid__indexes_named_and_nothing_stored(
        server: Server, events_key: dict[str, str], db: sa.Engine) -> None:
    # Given a batch mixing valid events with events missing fields, bad fields and short ids
    who = user()
    events = [
        {"event_type": "ok", "user_id": who},
        {"user_id": who},  # no event_type
        {"event_type": "ok", "user_id": who, "time": "yesterday"},
        {"event_type": "ok", "user_id": "ab"},  # shorter than 5
        {"event_type": "ok"},  # no id at all
        {"event_type": "ok", "device_id": who, "event_properties": [1]},
        {"event_type": "ok", "user_id": "ab", "device_id": who},  # short user_id dropped, device kept
    ]
    # When uploaded
    response = post(server, {"api_key": events_key["key"], "events": events})
    # Then 400 lists each offending index by kind, and none of the batch is stored
    assert response.status_code == 400
    assert response.json() == {
        "code": 400, "error": "Invalid field values on some events",
        "events_with_missing_fields": {"event_type": [1], "user_id": [4]},
        "events_with_invalid_fields": {"time": [2], "event_properties": [5]},
        "events_with_invalid_id_lengths": {"user_id": [3]},
    }
    assert stored(db, events_key["project"], who) == []
    # And min_id_length lowers the bar for short ids
    ok = post(server, {"api_key": events_key["key"], "events": [{"event_type": "ok", "user_id": who[:2] + "z"}],
                       "options": {"min_id_length": 2}})
    assert ok.json()["code"] == 200


def test_upload__unknown_key__invalid_api_key_and_nothing_stored(server: Server, db: sa.Engine) -> None:
    who = user()
    response = post(server, {"api_key": "not-a-key", "events": [{"event_type": "a", "user_id": who}]})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error": "Invalid API key: not-a-key"}
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events WHERE user_key = :u"), {"u": who}).scalar() == 0


def test_upload__management_key_as_api_key__refused(server: Server, admin_key: str) -> None:
    response = post(server, {"api_key": admin_key, "events": [{"event_type": "a", "user_id": user()}]})
    assert response.json()["error"].startswith("Invalid API key:")


def test_upload__over_one_megabyte_or_2000_events__413_on_httpapi_only(
        server: Server, events_key: dict[str, str], db: sa.Engine) -> None:
    who = user()
    big = {"api_key": events_key["key"],
           "events": [{"event_type": "x", "user_id": who, "event_properties": {"pad": "p" * 1000}}] * 1100}
    many = {"api_key": events_key["key"], "events": [{"event_type": "x", "user_id": who}] * 2000}
    for body in (big, many):
        response = post(server, body)
        assert response.status_code == 413
        assert response.json() == {"code": 413, "error": "Payload too large"}
    assert stored(db, events_key["project"], who) == []
    # The batch API takes both
    assert post(server, big, "/batch").json()["code"] == 200
    assert post(server, many, "/batch").json()["code"] == 200


def test_upload__preflight__allows_browsers(server: Server) -> None:
    response = httpx.options(server.base_url + "/2/httpapi", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] in ("*", "https://shop.example")
    assert "content-type" in response.headers["access-control-allow-headers"].lower()
    # And the upload's own answer names the origin once, so the page may read it
    upload = httpx.post(server.base_url + "/2/httpapi", json={"api_key": "client-nosuchkey", "events": []},
                        headers={"Origin": "https://shop.example"})
    assert upload.headers.get_list("access-control-allow-origin") == ["*"]


def test_upload__over_the_key_rate__429_with_throttled_events(tmp_path: Any) -> None:
    # Given a server allowing 100 events per second per key
    from tests.support.server import fresh_database_url

    with running_server(fresh_database_url(tmp_path), env={"FLAGYARD_INGEST_EVENTS_PER_SECOND": "100"}) as srv:
        project = srv.create_project("throttled")
        key = srv.create_deployment(project, "t")["key"]
        events = [{"event_type": "x", "user_id": "user-1", "device_id": "device-1"}] * 80
        # When two uploads of 80 events follow each other at once
        first = post(srv, {"api_key": key, "events": events})
        second = post(srv, {"api_key": key, "events": events})
    # Then the second is throttled with the body the SDKs read
    assert first.json()["code"] == 200
    assert second.status_code == 429
    assert second.json() == {
        "code": 429, "error": "Too many requests for some devices and users", "eps_threshold": 100.0,
        "throttled_devices": {"device-1": 100.0}, "throttled_users": {"user-1": 100.0},
        "throttled_events": list(range(80)),
    }
