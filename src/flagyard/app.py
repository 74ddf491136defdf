"""Composition root: builds the engine, services and routers. Nothing happens at import."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import resource
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from flagyard import __version__
from flagyard.api.console import setup as console
from flagyard.api.console.cohorts import UPLOAD_PATH as COHORT_UPLOAD_PATH
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.sign_in_options import SignInOptions
from flagyard.api.http import errors as api_errors
from flagyard.api.http import openapi, operations
from flagyard.api.http.cors import CorsByPath, sdk_policy
from flagyard.api.http.fast_json import dump_json
from flagyard.api.http.middleware import BodyLimitMiddleware, ManagementAuthMiddleware
from flagyard.api.http.observability import Metrics, RequestObservability
from flagyard.api.http.pagination import envelope_bytes
from flagyard.api.http.ratelimit import RateLimitMiddleware, token_buckets
from flagyard.api.jobs.bandits import BanditJob
from flagyard.api.jobs.results_watch import ResultsWatchJob
from flagyard.api.jobs.schedules import ScheduleJob
from flagyard.api.jobs.usage import UsageFlushJob
from flagyard.api.jobs.webhook_sender import HttpWebhookSender
from flagyard.api.jobs.webhooks import WebhookJob
from flagyard.api.management import audit as audit_routes
from flagyard.api.management import beta, cohorts, deployments, items, project_files, versions
from flagyard.api.management import change_requests as change_request_routes
from flagyard.api.management import lifecycle as lifecycle_routes
from flagyard.api.management import results as results_routes
from flagyard.api.management import webhooks as webhook_routes
from flagyard.api.management.flags import collection_router
from flagyard.api.management.groups import group_router
from flagyard.api.management.list_fast_path import ListFastPath
from flagyard.api.management.restore import restore_router
from flagyard.api.management.schedules import schedule_router
from flagyard.api.management.usage import usage_router
from flagyard.api.management.write_fast_path import WriteFastPath
from flagyard.api.schemas.flags import (
    ExperimentCreateIn,
    ExperimentPatchIn,
    FlagCreateIn,
    FlagPatchIn,
)
from flagyard.api.sdk import cohorts as sdk_cohorts
from flagyard.api.sdk import evaluation as sdk_routes
from flagyard.api.sdk import ingestion as ingestion_routes
from flagyard.api.sdk import ofrep as ofrep_routes
from flagyard.api.sdk.broadcast import StreamHub
from flagyard.api.sdk.config_on_the_wire import ConfigOnTheWire
from flagyard.api.sdk.fast_path import SdkFastPath
from flagyard.api.sdk.on_the_wire import OnTheWire
from flagyard.api.sdk.stream_wire import StreamingApp
from flagyard.api.sdk.vardata_on_the_wire import VardataOnTheWire
from flagyard.config import Settings
from flagyard.manage.approvals import reviewed
from flagyard.manage.audit import AuditService
from flagyard.manage.change_requests import ChangeRequestService
from flagyard.manage.cohorts import CohortService
from flagyard.manage.dependency_graph import DependencyGraphService
from flagyard.manage.deployments import DeploymentService
from flagyard.manage.experiment_lifecycle import ExperimentLifecycle
from flagyard.manage.flag_listing import RenderedFlags
from flagyard.manage.flag_search import FlagSearchService
from flagyard.manage.flag_usage import FlagUsageService
from flagyard.manage.flags import FlagService
from flagyard.manage.groups import GroupService
from flagyard.manage.key_administration import KeyAdministration
from flagyard.manage.keys import KeyService
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.single_sign_on import parse_policy
from flagyard.manage.ports import UnitOfWorkFactory
from flagyard.manage.project_export import ProjectExportService
from flagyard.manage.project_import import ProjectImportService
from flagyard.manage.restore import RestoreService
from flagyard.manage.schedules import ScheduleService
from flagyard.manage.services import ManageServices
from flagyard.manage.single_sign_on import SingleSignOnService
from flagyard.manage.users import UsersService
from flagyard.manage.variants import VariantService
from flagyard.manage.versions import VersionService
from flagyard.manage.webhook_delivery import WebhookDelivery
from flagyard.manage.webhooks import WebhookService
from flagyard.measure.assignments import AssignmentRecorder
from flagyard.measure.bandits import BanditAllocator
from flagyard.measure.ingestion import IngestionService
from flagyard.measure.results import ResultsService
from flagyard.measure.results_watch import ResultsWatch
from flagyard.measure.services import MeasureServices
from flagyard.serve.cohort_download import CohortDownloadService
from flagyard.serve.cohort_membership import CohortMembership
from flagyard.serve.propagation import Propagator
from flagyard.serve.service import Serving
from flagyard.serve.services import ServeServices
from flagyard.serve.snapshot_cache import SnapshotCache
from flagyard.serve.usage import UsageCounter
from flagyard.store import migrate
from flagyard.store.db import make_engine
from flagyard.store.manage.flag_search import flag_search_reader
from flagyard.store.manage.unit_of_work import unit_of_work_factory
from flagyard.store.measure.event_writer import GroupCommitWriter
from flagyard.store.measure.results_read_model import results_reader_factory
from flagyard.store.serve.change_feed import make_change_feed
from flagyard.store.serve.cohort_membership_reader import membership_reader
from flagyard.store.serve.usage_writer import usage_writer


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    migrate.prepare(engine, allow_upgrade=settings.migrate)
    evaluation_uow = unit_of_work_factory(engine)
    feed = make_change_feed(engine)
    # With a change feed, snapshots are re-checked when it says so, never on a timer.
    evaluation = SnapshotCache(evaluation_uow, check_interval=math.inf if feed else 0.5)
    propagator = Propagator(evaluation, feed, first_build=collector_paused)
    stream_hub = StreamHub(evaluation.current, settings.stream_keepalive_seconds)
    propagator.subscribe(stream_hub.deployments_changed)
    uow = unit_of_work_factory(engine, on_commit=propagator.changed)
    keys = KeyService(uow)
    webhook_sender = HttpWebhookSender(allow_private=settings.webhook_allow_private)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        raise_open_files_limit()
        tune_garbage_collector()
        propagator.start()
        bandit_job.start()
        schedule_job.start()
        webhook_job.start()
        watch_job.start()
        usage_job.start()
        try:
            yield
        finally:
            usage_job.stop()
            watch_job.stop()
            webhook_job.stop()
            schedule_job.stop()
            bandit_job.stop()
            webhook_sender.close()
            await stream_hub.close()
            propagator.stop()

    app = StreamingApp(  # FastAPI that lets SDK streams reach their connection (stream_wire.py)
        title="flagyard",
        version=__version__,
        description="Amplitude Experiment compatible Management API and SDK endpoints.",
        lifespan=lifespan,
        docs_url=None,  # served offline by the console package
        redoc_url=None,
        # Observability is Prometheus metrics and JSON request lines (api/http/observability.py);
        # FastAPI's own OpenTelemetry hooks checked for providers on every request (profiled).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    # The code's head is read once: reading the migration scripts cost /ready 10 ms of CPU.
    head_revision = migrate.head_revision(engine)
    app.state.schema_revisions = lambda: (migrate.current_revision(engine), head_revision)
    app.state.stream_hub = stream_hub
    app.state.metrics = metrics = Metrics()

    # One container per wing; the edges reach a wing only through it (api/http/deps.py).
    event_writer = GroupCommitWriter(engine)
    ingestion = IngestionService(evaluation_uow, event_writer,
                                 events_per_second=settings.ingest_events_per_second)
    app.state.measure = measure = MeasureServices(
        ingestion=ingestion,
        results=(results := ResultsService(uow, results_reader_factory(engine), event_writer)),
        bandits=BanditAllocator(uow, results_reader_factory(engine), event_writer),
        watch=ResultsWatch(results, results_reader_factory(engine)),
    )
    usage = UsageCounter(usage_writer(engine))
    app.state.serve = serve = ServeServices(
        serving=Serving(
            evaluation, CohortMembership(membership_reader(engine)), AssignmentRecorder(ingestion),
            usage=usage if settings.usage_counting else None,
            counted=lambda deployment_id, n: metrics.evaluations.labels(str(deployment_id)).inc(n)),
        cohort_download=CohortDownloadService(evaluation_uow, keys.authenticate),
        propagator=propagator,
        usage=usage,
    )
    # `flagyard serve` answers the config and remote evaluation on the connection
    # (flagyard/answering_protocol.py); answers to browsers carry the SDK policy's CORS headers.
    sdk_cors = sdk_policy(app, settings.cors_origins)
    app.state.early_answers = OnTheWire(
        ConfigOnTheWire(serve.serving, metrics, sdk_cors, access_log=settings.access_log),
        VardataOnTheWire(serve.serving, metrics, sdk_cors, access_log=settings.access_log,
                         max_body_bytes=settings.max_body_bytes))
    # The services that change one flag at a time open a change request when its deployment
    # requires approval (manage/approvals.py, ADR 0089).
    held = reviewed(uow)
    app.state.manage = manage = ManageServices(
        flags=FlagService(held),
        variants=VariantService(held),
        deployments=DeploymentService(held),
        versions=VersionService(uow),
        groups=GroupService(uow),
        listing=RenderedFlags(uow, lambda flag: dump_json(flag_document(flag)), envelope_bytes),
        search=FlagSearchService(flag_search_reader(engine)),
        restore=RestoreService(held),
        cohorts=CohortService(uow),
        dependency_graph=DependencyGraphService(uow),
        project_export=ProjectExportService(uow),
        project_import=ProjectImportService(uow),
        keys=KeyAdministration(keys),
        users=UsersService(uow),
        schedules=ScheduleService(held),
        webhooks=WebhookService(uow, webhook_sender),
        audit=AuditService(uow),
        webhook_delivery=WebhookDelivery(uow, webhook_sender, owner=f"{socket.gethostname()}:{os.getpid()}",
                                         retry_delays=settings.retry_delays()),
        change_requests=ChangeRequestService(uow),
        lifecycle=ExperimentLifecycle(held),
        usage=FlagUsageService(evaluation_uow),
        single_sign_on=single_sign_on(uow, settings),
    )
    bandit_job = BanditJob(measure, manage, settings.bandit_check_seconds)
    schedule_job = ScheduleJob(manage, settings.schedule_check_seconds)
    webhook_job = WebhookJob(manage.webhook_delivery, settings.webhook_check_seconds)
    watch_job = ResultsWatchJob(measure, manage, settings.results_watch_seconds)
    usage_job = UsageFlushJob(usage, settings.usage_flush_seconds)
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
    app.include_router(group_router(Kind.HOLDOUT))
    app.include_router(group_router(Kind.MUTEX))
    app.include_router(project_files.router)
    app.include_router(sdk_routes.router)
    app.include_router(ofrep_routes.build_router(settings.ofrep_rate_limit_per_second))
    app.include_router(cohorts.router)
    app.include_router(sdk_cohorts.router)
    app.include_router(operations.router)
    app.include_router(ingestion_routes.router)
    app.include_router(results_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(change_request_routes.router)
    app.include_router(lifecycle_routes.router)
    for kind, plural in ((Kind.FLAG, "flags"), (Kind.EXPERIMENT, "experiments")):
        app.include_router(restore_router(kind, plural))
        app.include_router(schedule_router(kind, plural))
        app.include_router(usage_router(kind, plural))
    console.install(app, ConsoleServices(
        flags=manage.flags, search=manage.search, variants=manage.variants,
        deployments=manage.deployments, versions=manage.versions, restore=manage.restore,
        serving=serve.serving, keys=manage.keys, users=manage.users, results=measure.results,
        schedules=manage.schedules, webhooks=manage.webhooks,
        audit=manage.audit,
        groups=manage.groups,
        change_requests=manage.change_requests,
        cohorts=manage.cohorts,
        dependency_graph=manage.dependency_graph,
        lifecycle=manage.lifecycle,
        usage=manage.usage,
        single_sign_on=manage.single_sign_on,
    ), sign_in=SignInOptions.from_settings(settings))

    # Listed innermost first; a request meets them as: observe → CORS → body limit → SDK fast
    # path → list fast path → write fast path → authenticate → rate-limit → route. The SDK fast
    # path sits outside the management layers, which only pass SDK requests on; the list and
    # write fast paths authenticate and rate-limit what they answer themselves, with the same
    # keys and per-key buckets.
    buckets = token_buckets(settings.rate_limit_per_second)
    app.add_middleware(RateLimitMiddleware, buckets=buckets)
    app.add_middleware(ManagementAuthMiddleware, keys=keys)
    app.add_middleware(WriteFastPath, keys=keys, buckets=buckets)
    app.add_middleware(ListFastPath, keys=keys, buckets=buckets)
    app.add_middleware(SdkFastPath)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       larger=[(COHORT_UPLOAD_PATH, settings.max_member_file_bytes),
                               (cohorts.FILE_PATH, settings.max_member_file_bytes)])
    # Preflights are answered before authentication: they carry no credentials.
    app.add_middleware(CorsByPath, sdk_origins=settings.cors_origins,
                       management_origins=settings.management_cors_origins)
    app.add_middleware(RequestObservability, metrics=metrics, access_log=settings.access_log)
    return app


def single_sign_on(uow: UnitOfWorkFactory, settings: Settings) -> SingleSignOnService | None:
    """The identity provider's people as console users, when one is set up (ADR 0087)."""
    if not settings.oidc_issuer.strip():
        return None
    return SingleSignOnService(uow, parse_policy(
        settings.oidc_allowed_domains, settings.oidc_role_claim, settings.oidc_role_map,
        settings.oidc_default_role))


def tune_garbage_collector() -> None:
    """Collect cycles less often. With CPython's default (every 700 allocations) the cycle
    collector took a third of the server's GIL time under event ingestion (profiled with
    py-spy --native): every upload allocates hundreds of thousands of short-lived objects, none
    in cycles. What exists at startup is frozen out of the collector's scans altogether."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """For the first build of every deployment's snapshot: it allocates millions of objects
    that all stay, and collections during it rescanned them (half the time of parsing 10,000
    flags). Afterwards they are frozen out of later scans, as at startup."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


def raise_open_files_limit() -> None:
    """Every open SDK stream holds a socket: allow as many as the system lets this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):  # else keep the limit we were given
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def app_from_environment() -> FastAPI:
    """Factory for uvicorn (`--factory`), used by `flagyard serve` with several workers."""
    return create_app(Settings())
