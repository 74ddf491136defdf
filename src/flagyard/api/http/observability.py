"""Request ids, one structured log line per request, and Prometheus metrics.

Logs never carry keys: only the management key's id and name when one was resolved.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flagyard.request_context import client_address

log = logging.getLogger("flagyard.requests")

_ID_IN_PATH = re.compile(r"(?<!^/api)/\d+(?=/|$)")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("flagyard_http_requests", "HTTP requests served",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("flagyard_http_request_duration_seconds", "Time to answer a request",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.evaluations = Counter("flagyard_flag_evaluations", "Flags evaluated for remote evaluation",
                                   ["deployment"], registry=self.registry)
        # Each label set's child, looked up once: `labels()` takes a lock and validates its
        # arguments on every call, a few percent of a config request (profiled).
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self._counted[(method, route, status)] = self.requests.labels(method, route, str(status))
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[(method, route)] = self.latency.labels(method, route)
        counted.inc()
        timed.observe(seconds)


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    # Unmatched (404) or answered before routing (401, 413): keep the label set small.
    return _ID_IN_PATH.sub("/{id}", scope.get("path", ""))[:100] if scope.get("path", "").startswith(
        ("/api/1/", "/sdk/", "/v1/")) else "other"


class RequestObservability:
    def __init__(self, app: ASGIApp, metrics: Metrics, *, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        # Off when a proxy in front already logs every request (the line cost a tenth of a
        # config request's time, profiled); ids and metrics stay.
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(dict(scope["headers"]).get(b"x-request-id", b""))
        scope.setdefault("state", {})["request_id"] = request_id
        peer = scope.get("client")
        client_address.set(peer[0] if peer else None)  # for the audit log
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(scope["method"], route_label(scope), status, elapsed)
            if self.access_log:
                log_request(scope["method"], scope["path"], request_id, status, elapsed,
                            scope.get("state", {}).get("principal"))


def request_id_for(incoming: bytes) -> str:
    """The caller's `X-Request-Id` when it is a usable one, else a new random id."""
    given = incoming.decode("latin-1")[:64]
    return given if given.isprintable() and given else os.urandom(16).hex()


def log_request(method: str, path: str, request_id: str, status: int, elapsed: float,
                principal: Any = None) -> None:
    entry: dict[str, Any] = {
        "request_id": request_id,
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
    }
    if principal is not None:
        entry["key_id"] = principal.key_id
        entry["key_name"] = principal.name
    log.info(orjson.dumps(entry).decode())
