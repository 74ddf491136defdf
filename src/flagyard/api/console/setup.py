"""Mounting the console: its routers (most specific paths first), static files and /docs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from flagyard.api.console import (
    audit,
    auth,
    change_requests,
    cohorts,
    debugger,
    dependencies,
    docs,
    experiment_creation,
    groups,
    history,
    item,
    lifecycle,
    listing,
    oidc,
    operate,
    results,
    schedules,
    webhooks,
)
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.sign_in_options import SignInOptions

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, services: ConsoleServices,
            sign_in: SignInOptions | None = None) -> None:
    app.state.console = services
    app.state.sign_in_options = sign_in or SignInOptions(password=True)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    docs.install(app)
    # The catch-all patterns (`/console/p/{project}/{plural}`, `/console/{plural}/{id}/{action}`)
    # come after the fixed paths they would otherwise swallow.
    for module in (auth, oidc, history, results, schedules, webhooks, audit, debugger, operate, groups,
                   change_requests, cohorts, dependencies, experiment_creation, lifecycle, listing, item):
        app.include_router(module.router)
