"""Composition root: builds the engine, services and routers. Nothing happens at import."""

from __future__ import annotations

from fastapi import FastAPI

from flagyard import __version__
from flagyard.api import errors as api_errors
from flagyard.api import openapi, operations
from flagyard.api.deps import Services
from flagyard.api.evaluation import routes as sdk_routes
from flagyard.api.evaluation.fast_path import SdkFastPath
from flagyard.api.management import beta, deployments, items, versions
from flagyard.api.management.flags import collection_router
from flagyard.api.middleware import BodyLimitMiddleware, ManagementAuthMiddleware
from flagyard.api.observability import Metrics, RequestObservability
from flagyard.api.ratelimit import RateLimitMiddleware
from flagyard.api.schemas.flags import (
    ExperimentCreateIn,
    ExperimentPatchIn,
    FlagCreateIn,
    FlagPatchIn,
)
from flagyard.config import Settings
from flagyard.domain.flags import Kind
from flagyard.services.deployments import DeploymentService
from flagyard.services.evaluation import EvaluationService
from flagyard.services.flags import FlagService
from flagyard.services.keys import KeyService
from flagyard.services.variants import VariantService
from flagyard.services.versions import VersionService
from flagyard.store import migrate
from flagyard.store.db import make_engine
from flagyard.store.unit_of_work import unit_of_work_factory


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    migrate.prepare(engine, allow_upgrade=settings.migrate)
    evaluation_uow = unit_of_work_factory(engine)
    evaluation = EvaluationService(evaluation_uow)
    uow = unit_of_work_factory(engine, on_commit=evaluation.invalidate)
    keys = KeyService(uow)

    app = FastAPI(
        title="flagyard",
        version=__version__,
        description="Amplitude Experiment compatible Management API and SDK endpoints.",
    )
    app.state.settings = settings
    app.state.schema_revisions = lambda: (migrate.current_revision(engine), migrate.head_revision(engine))
    app.state.evaluation = evaluation
    app.state.metrics = metrics = Metrics()
    app.state.services = Services(
        flags=FlagService(uow),
        variants=VariantService(uow),
        deployments=DeploymentService(uow),
        versions=VersionService(uow),
    )
    api_errors.install(app)
    openapi.install(app)

    for kind, plural, create_in, patch_in in (
        (Kind.FLAG, "flags", FlagCreateIn, FlagPatchIn),
        (Kind.EXPERIMENT, "experiments", ExperimentCreateIn, ExperimentPatchIn),
    ):
        app.include_router(collection_router(kind, plural, create_in, patch_in))
        app.include_router(items.item_router(kind, f"/api/1/{plural}", plural.title()))
        # Beta routes: the fixed paths (/list, /new) are registered before /{id}.
        app.include_router(beta.beta_router(kind, plural, create_in, patch_in))
        app.include_router(items.item_router(kind, f"/{plural}", f"{plural.title()} (beta)"))
    app.include_router(deployments.router)
    app.include_router(beta.deployments_router)
    app.include_router(versions.router)
    app.include_router(sdk_routes.router)

    app.include_router(operations.router)

    # Listed innermost first: observe → body limit → authenticate → rate-limit → SDK fast path
    # → route.
    app.add_middleware(SdkFastPath)
    app.add_middleware(RateLimitMiddleware, rate=settings.rate_limit_per_second)
    app.add_middleware(ManagementAuthMiddleware, keys=keys)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestObservability, metrics=metrics)
    return app


def app_from_environment() -> FastAPI:
    """Factory for uvicorn (`--factory`), used by `flagyard serve` with several workers."""
    return create_app(Settings())
