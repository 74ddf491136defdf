"""Settings read from the environment (prefix FLAGYARD_). Nothing is read at import time."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLAGYARD_", extra="ignore")

    database_url: str = "sqlite:///./flagyard.db"
    # Base of the `url` returned by create; defaults to the address the server listens on.
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A cohort's members uploaded as one file (a million ids is some 40 MB): the one body
    # allowed past max_body_bytes, streamed to a temporary file, never held in memory.
    max_member_file_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    # Amplitude documents 100 requests per second per key; 0 turns the limit off.
    rate_limit_per_second: float = Field(default=100.0, ge=0)
    # Upgrade a schema that is behind instead of refusing to start.
    migrate: bool = False
    db_pool_size: int = Field(default=5, ge=1)
    # One JSON line per request on stderr; turn off when a proxy in front logs requests.
    access_log: bool = True
    # SDKs drop a stream after 17 s without an event; Amplitude sends a keep-alive every 15 s.
    stream_keepalive_seconds: float = Field(default=15.0, gt=0)
    # Origins allowed to call the SDK routes (/sdk/..., /v1/vardata, /ofrep/...) from a browser:
    # "*" or a comma-separated list. Client deployment keys are public by design.
    cors_origins: str = "*"
    # Origins allowed to call the Management API from a browser; empty: none.
    management_cors_origins: str = ""
    # Per deployment key on the OFREP routes; 0 turns the limit off.
    ofrep_rate_limit_per_second: float = Field(default=0.0, ge=0)

    # Events per second per deployment key on /2/httpapi and /batch (429 beyond); 0: no limit.
    ingest_events_per_second: float = Field(default=200_000.0, ge=0)

    # How often each process checks whether a bandit experiment is due a new split; 0: never.
    bandit_check_seconds: float = Field(default=60.0, ge=0)
    # How often each process looks for scheduled changes that are due; 0: never (the process then
    # applies none, not even those missed while no server ran).
    schedule_check_seconds: float = Field(default=1.0, ge=0)
    # How often each process writes the flag evaluations it counted (a flag's usage); 0: only when
    # the server stops.
    usage_flush_seconds: float = Field(default=10.0, ge=0)
    # Whether remote evaluations are counted for flag usage at all (docs/usage.md).
    usage_counting: bool = True

    # Webhook targets inside the network (private, loopback, link-local) are refused unless set.
    webhook_allow_private: bool = False
    # How often each process looks for webhook deliveries due; 0: never (a process that only
    # serves). One process at a time sends, whatever the number that look.
    webhook_check_seconds: float = Field(default=0.5, ge=0)
    # Seconds between a failed attempt and the next, comma-separated; after the last, the
    # delivery is failed. Default: Standard Webhooks' schedule, about 28 hours in all.
    webhook_retry_delays: str = "5,300,1800,7200,18000,36000,36000"

    # Single sign-on to the console with OpenID Connect (docs/sso.md, ADR 0087); off while the
    # issuer is empty. The issuer must be https, except on a loopback address.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    # Shown on the sign-in button ("Sign in with Okta"); empty: "your identity provider".
    oidc_provider_name: str = ""
    oidc_scopes: str = "openid email profile"
    # Email domains that may sign in, comma-separated; empty: any.
    oidc_allowed_domains: str = ""
    # The claim listing the person's groups or roles (e.g. "groups"); empty: roles are set in
    # flagyard, and people signing in for the first time get the default role.
    oidc_role_claim: str = ""
    # group=role pairs, comma-separated: "flagyard-admins=admin,flagyard-editors=editor".
    # Several matching groups give the highest role.
    oidc_role_map: str = ""
    # The role of people in no mapped group; "none" refuses them.
    oidc_default_role: str = "viewer"
    # With single sign-on on, false turns the password form off (it stays on without it).
    password_sign_in: bool = True

    # How often each process reads running experiments' results to announce a sample ratio
    # mismatch or a significant primary metric to webhooks (once each); 0: never.
    results_watch_seconds: float = Field(default=300.0, ge=0)

    def retry_delays(self) -> list[float]:
        return [float(part) for part in self.webhook_retry_delays.split(",") if part.strip()]

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"
