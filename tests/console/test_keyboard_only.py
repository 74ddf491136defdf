"""The console's main flows with the keyboard alone, in headless Chromium: sign in, create a flag
and enable it, design an experiment and start it. Focus moves only with Tab and Shift+Tab, text is
typed into the element that has the focus, and buttons, links and checkboxes are worked with
Enter and Space: no mouse, no click, no filling of an element the focus is not on. What was done
is checked through the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from tests.console.conftest import Person
from tests.factories import unique_key
from tests.support.server import Server

# What has the focus: its id and the words a person hears for it (its label, else its text).
FOCUSED = r"""() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {id: '', name: ''};
  const words = e.labels && e.labels.length ? e.labels[0].innerText : (e.getAttribute('aria-label') || e.innerText || '');
  return {id: e.id, name: words.trim().replace(/\s+/g, ' ')};
}"""
MAX_PRESSES = 400  # a list page has at most 50 rows of links before its form


def focused(page: Any) -> dict[str, str]:
    return dict(page.evaluate(FOCUSED))


def tab_to(page: Any, target: str, *, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab backwards) until the focus is on `target`: "#id" or its words."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_PRESSES):
        page.keyboard.press(key)
        now = focused(page)
        if (target.startswith("#") and now["id"] == target[1:]) or now["name"] == target:
            return
    raise AssertionError(f"{key} never reached {target!r}")


def type_here(page: Any, text: str) -> None:
    """Replace what the focused field holds with `text`, as a person does: select all, type."""
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def test_keyboard_only__sign_in__create_and_enable_a_flag__design_and_start_an_experiment(
        browser: Any, server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str],
        people: Callable[[str], Person]) -> None:
    person = people("editor")
    label = api.get(f"/api/1/deployments/{deployment['id']}").json()["label"]
    context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())

    # Sign in: the email field has the focus when the page opens
    page.goto(f"/?next=/console/p/{project_id}/flags")
    assert focused(page)["id"] == "email"
    page.keyboard.type(person.email)
    tab_to(page, "Password")
    page.keyboard.type(person.password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"://[^/]+/console/p/{project_id}/flags$"))  # not the sign-in page's ?next=

    # Create a flag served by the deployment
    flag_key = unique_key("keyboard-flag")
    tab_to(page, "#new-key")
    page.keyboard.type(flag_key)
    tab_to(page, "Name")
    page.keyboard.type("Made with the keyboard")
    tab_to(page, label)
    page.keyboard.press("Space")
    tab_to(page, "Create flag")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/flags/\d+\?done="))
    flag_id = re.search(r"/flags/(\d+)", page.url).group(1)  # type: ignore[union-attr]

    # Enable it
    tab_to(page, "Enable")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("done=Enabled"))
    flag = api.get(f"/api/1/flags/{flag_id}").json()
    assert flag["key"] == flag_key and flag["enabled"] is True and flag["deployments"] == [deployment["id"]]
    assert flag["lastModifiedBy"] == person.email

    # Go to the experiments and open the design form
    tab_to(page, "Experiments")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/console/p/{project_id}/experiments$"))
    tab_to(page, "New experiment")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/experiments/new$"))

    # Design the experiment
    experiment_key = unique_key("keyboard-experiment")
    tab_to(page, "#ne-key")
    page.keyboard.type(experiment_key)
    tab_to(page, "Hypothesis")
    page.keyboard.type("Typing is faster than pointing.")
    tab_to(page, label)
    page.keyboard.press("Space")
    tab_to(page, "Bucketing key")
    type_here(page, "user_id")
    tab_to(page, "#ne-metric-0-eventType")
    page.keyboard.type("purchase")
    tab_to(page, "Create experiment")
    # ... then back up to the exposure event, which was forgotten, and on to create it
    tab_to(page, "Exposure event (optional)", backwards=True)
    page.keyboard.type("checkout viewed")
    tab_to(page, "Create experiment")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/experiments/\d+\?done="))
    experiment_id = re.search(r"/experiments/(\d+)", page.url).group(1)  # type: ignore[union-attr]

    # Start it
    tab_to(page, "Start now")
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r"done=Experiment%20[^&]*%20started"))
    context.close()

    # Through the API: what the keyboard did
    experiment = api.get(f"/api/1/experiments/{experiment_id}").json()
    assert experiment["key"] == experiment_key and experiment["state"] == "running"
    assert experiment["enabled"] is True and experiment["startDate"]
    assert experiment["description"] == "Typing is faster than pointing."
    assert experiment["bucketingKey"] == "user_id" and experiment["deployments"] == [deployment["id"]]
    assert experiment["exposureEvent"] == {"event_type": "checkout viewed", "filters": []}
    assert experiment["lastModifiedBy"] == person.email
    metrics = api.get(f"/api/1/experiments/{experiment_id}/metrics").json()["metrics"]
    assert [(m["eventType"], m["role"]) for m in metrics] == [("purchase", "primary")]
