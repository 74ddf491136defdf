"""Events for results pages, sent through the real ingestion route as the analytics SDK sends them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.server import Server

T0 = 1_790_000_000_000  # client time of the events, ms


def send(server: Server, deployment: dict[str, str], events: list[dict[str, Any]]) -> None:
    answer = httpx.post(f"{server.base_url}/2/httpapi",
                        json={"api_key": deployment["key"], "events": events}, timeout=30)
    assert answer.status_code == 200 and answer.json()["code"] == 200, answer.text


def exposure(flag: str, user: str, variant: str, time: int = T0) -> dict[str, Any]:
    return {"event_type": "[Experiment] Exposure", "user_id": user, "time": time,
            "event_properties": {"[Experiment] Flag Key": flag, "[Experiment] Variant": variant}}


def purchase(user: str, revenue: float, time: int = T0 + 1000) -> dict[str, Any]:
    return {"event_type": "purchase", "user_id": user, "time": time, "event_properties": {"revenue": revenue}}


def exposed(server: Server, deployment: dict[str, str], key: str, control: int, treatment: int,
            buyers: dict[str, list[float]]) -> None:
    """`control` and `treatment` users exposed; buyers[variant][i] is user i's revenue."""
    events = []
    for variant, n in (("control", control), ("treatment", treatment)):
        for i in range(n):
            user = f"{key}-{variant}-{i:03d}"
            events.append(exposure(key, user, variant))
            if i < len(buyers.get(variant, [])):
                events.append(purchase(user, buyers[variant][i]))
    send(server, deployment, events)
