"""The flags list (search, filters, paging), the CLI for users, and /docs served offline."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from tests.console.conftest import Browserless, create_user
from tests.factories import create_flag, unique_key
from tests.support.server import Server, cli_env


def _keys(html: str) -> list[str]:
    return re.findall(r'<td><a href="/console/flags/\d+">([^<]+)</a></td>', html)


def test_flag_list__search_filters_and_cursor_paging(
    editor: Browserless, api: httpx.Client, server: Server, deployment: dict[str, str]
) -> None:
    project = server.create_project("listing")
    own = server.create_deployment(project, "listing-prod")
    marker = unique_key("zebra")
    ids = [create_flag(api, project, "flags", key=f"{marker}-{i}", name=f"Zebra {i}",
                       tags=["blue"] if i % 2 else ["red"], deployments=[own["id"]] if i < 3 else [])
           for i in range(5)]
    api.patch(f"/api/1/flags/{ids[0]}", json={"enabled": True})
    api.patch(f"/api/1/flags/{ids[4]}", json={"archive": True})
    base = f"/console/p/{project}/flags"
    get = editor.client.get

    assert _keys(get(base, params={"q": "ZEBRA 3"}).text) == [f"{marker}-3"]  # name, any case
    assert _keys(get(base, params={"q": marker}).text) == [f"{marker}-{i}" for i in (3, 2, 1, 0)]
    assert _keys(get(base, params={"tag": "blue"}).text) == [f"{marker}-3", f"{marker}-1"]
    assert _keys(get(base, params={"enabled": "on"}).text) == [f"{marker}-0"]
    assert _keys(get(base, params={"deployment": own["id"]}).text) == [f"{marker}-{i}" for i in (2, 1, 0)]
    assert _keys(get(base, params={"archived": "yes"}).text) == [f"{marker}-4"]
    assert "badge archived" in get(base, params={"archived": "yes"}).text
    # A LIKE wildcard is matched literally
    assert _keys(get(base, params={"q": "%"}).text) == []

    # Paging: 50 a page, the cursor continues where the page ended
    for i in range(50):
        create_flag(api, project, "flags", key=f"{marker}-bulk-{i:02d}")
    first = get(base)
    assert len(_keys(first.text)) == 50
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert next_url
    second = get(base + next_url.group(1).replace("&amp;", "&"))
    assert set(_keys(second.text)).isdisjoint(_keys(first.text))
    assert len(_keys(first.text)) + len(_keys(second.text)) == 54


def test_users_cli__create_list_set_role_disable(server: Server) -> None:
    person = create_user(server, "viewer")

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flagyard", "users", *args], input=stdin,
                              env=cli_env(server.database_url), capture_output=True, text=True, timeout=60)

    assert cli("set-role", person.email, "editor").returncode == 0
    assert cli("disable", person.email).returncode == 0
    assert f"\t{person.email}\teditor\tdisabled" in cli("list").stdout
    bad_role = cli("create", "--email", person.email, "--role", "owner", "--password-stdin", stdin="long enough\n")
    assert bad_role.returncode == 1 and "role must be one of admin, editor, viewer" in bad_role.stderr
    assert cli("set-role", "nobody@example.com", "admin").returncode == 1


def test_docs__served_with_local_assets_only(server: Server) -> None:
    page = httpx.get(f"{server.base_url}/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        answer = httpx.get(f"{server.base_url}{asset}")
        assert answer.status_code == 200 and len(answer.content) > 10_000
