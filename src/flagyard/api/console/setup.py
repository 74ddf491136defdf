"""Mounting the console: its routers (most specific paths first), static files and /docs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from flagyard.api.console import (
    auth,
    debugger,
    docs,
    history,
    item,
    listing,
    operate,
    results,
    schedules,
    webhooks,
)
from flagyard.api.console.services import ConsoleServices

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, services: ConsoleServices) -> None:
    app.state.console = services
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    docs.install(app)
    # The catch-all patterns (`/console/p/{project}/{plural}`, `/console/{plural}/{id}/{action}`)
    # come after the fixed paths they would otherwise swallow.
    for module in (auth, history, results, schedules, webhooks, debugger, operate, listing, item):
        app.include_router(module.router)
