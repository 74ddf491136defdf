"""Headless Chromium for the console's browser tests: the browser, where screenshots go, and a
person signed in through the sign-in page."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from tests.support.server import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where full-page screenshots go, for a person to look at: $FLAGYARD_SCREENSHOTS or a
    temporary directory."""
    configured = os.environ.get("FLAGYARD_SCREENSHOTS")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {directory}")
    return directory


def sign_in_page(browser: Any, server: Server, person: Any, width: int = 1280) -> Any:
    """A page signed in as `person` through the sign-in form; confirmation dialogs are accepted."""
    context = browser.new_context(base_url=server.base_url, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/p/\d+/flags"))
    return page


def shoot(page: Any, shots: Path, name: str) -> None:
    """The page at desktop width, then at 390 px, whole."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
