"""axe-core (the npm package, injected into each page) over every console page reachable from
the navigation, for an admin and for a viewer, in headless Chromium: no serious or critical
violation. The crawl follows the console's own links (a few of each kind of page), so a new
page is checked as soon as something links to it."""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urldefrag, urlsplit

import httpx
import pytest

from tests.console.browser import sign_in_page
from tests.console.conftest import Person
from tests.factories import (
    create_cohort,
    create_experiment,
    create_flag,
    create_holdout,
    create_mutex,
)
from tests.support.npm import npm_packages
from tests.support.server import Server

AXE = "axe-core@4.10.2"
PAGES_PER_KIND = 2  # pages whose paths differ only in their ids are one kind
MAX_PAGES = 120
# Links a crawl must not follow: they act (sign out) or download rather than show a page.
SKIPPED = re.compile(r"/sign-out|/export|/download|\.jsonl$|\.csv$|/docs/")


@pytest.fixture(scope="module")
def axe_script() -> str:
    return str(npm_packages(AXE) / "node_modules" / "axe-core" / "axe.min.js")


@pytest.fixture(scope="module")
def furnished(api: httpx.Client, project_id: str, deployment: dict[str, str]) -> None:
    """One of each thing the console shows, so each kind of page has something on it."""
    create_flag(api, project_id, deployments=[deployment["id"]])
    experiment = create_experiment(api, project_id, deployments=[deployment["id"]])
    api.put(f"/api/1/experiments/{experiment}/metrics", json={"metrics": [{"eventType": "purchase"}]})
    create_holdout(api, project_id)
    create_mutex(api, project_id)
    create_cohort(api, project_id)
    api.post("/api/1/webhooks", json={"projectId": project_id, "url": "https://hooks.example.com/a11y",
                                      "events": ["flag.version.created"]})


def kind_of(path: str) -> str:
    return re.sub(r"\d+", "{n}", path)


def crawl(page: Any, base_url: str, axe_script: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Visit the console from its first page, running axe on each; (paths visited, violations
    with their page)."""
    start = page.url
    queue = deque([urlsplit(start).path])
    seen_kinds: Counter[str] = Counter()
    visited: list[str] = []
    found: list[dict[str, Any]] = []
    queued = set(queue)
    while queue and len(visited) < MAX_PAGES:
        path = queue.popleft()
        if seen_kinds[kind_of(path)] >= PAGES_PER_KIND:
            continue
        seen_kinds[kind_of(path)] += 1
        answer = page.goto(base_url + path)
        if answer is None or answer.status != 200 or "text/html" not in answer.headers.get("content-type", ""):
            continue
        visited.append(path)
        for violation in axe_violations(page, axe_script):
            found.append({**violation, "page": path})
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            target = urldefrag(href)[0]
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/console") or SKIPPED.search(parts.path):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link not in queued:
                queued.add(link)
                queue.append(link)
    return visited, found


def axe_violations(page: Any, axe_script: str) -> list[dict[str, Any]]:
    page.add_script_tag(path=axe_script)
    return list(page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"))


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(node["target"]) for node in v["nodes"][:3])
        lines.append(f"{v['page']}: [{v['impact']}] {v['id']}: {v['help']} — {targets}")
    return "\n".join(lines)


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_every_page__no_serious_or_critical_axe_violation(role: str, browser: Any, server: Server,
                                                         people: Callable[[str], Person], furnished: None,
                                                         axe_script: str) -> None:
    page = sign_in_page(browser, server, people(role))
    visited, violations = crawl(page, server.base_url, axe_script)
    page.context.close()
    # The crawl reached the pages the navigation offers, not just the first one
    assert len(visited) >= 8, visited
    print(f"\n{role}: {len(visited)} pages checked: {' '.join(visited)}\nall violations:\n{describe(violations)}")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, describe(serious)


def test_the_check_itself__a_known_violation_is_reported(browser: Any, server: Server,
                                                         people: Callable[[str], Person], axe_script: str) -> None:
    page = sign_in_page(browser, server, people("viewer"))
    # An image without a text alternative and a form field without a label, on a real page
    page.evaluate("""() => { document.querySelector('main').insertAdjacentHTML('beforeend',
        '<img src="/nothing.png"><input type="text">'); }""")
    found = {v["id"]: v["impact"] for v in axe_violations(page, axe_script)}
    page.context.close()
    assert found.get("image-alt") == "critical" and found.get("label") == "critical", found
