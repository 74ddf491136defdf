"""Cross-origin access: open on the SDK routes, closed on the Management API unless configured.

Browsers preflight every SDK call (each carries an `Authorization` or `X-Amp-Exp-*` header), so
the preflight is answered here, outside authentication: a preflight carries no credentials and
must never become a 401. Starlette's CORS middleware does the protocol; this module only picks
which policy a path gets.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flagyard.api.http.middleware import is_management_path

# Event ingestion too: the browser analytics SDK posts exposures to /2/httpapi from the page.
SDK_PREFIXES = ("/sdk/", "/v1/vardata", "/ofrep/", "/2/httpapi", "/batch")

# Every header Amplitude's browser SDK, the OpenFeature web provider and fetch-based stream
# clients send. Preflights asking for others are refused (400), so a typo shows at once.
SDK_HEADERS = (
    "authorization",
    "content-type",
    "content-encoding",
    "if-none-match",
    "x-api-key",
    "x-amp-exp-user",
    "x-amp-exp-flag-keys",
    "x-amp-exp-track",
    "x-amp-exp-exposure-track",
    "x-amp-exp-library",
    "cache-control",
    "last-event-id",
)
MANAGEMENT_HEADERS = ("authorization", "content-type", "x-request-id")
# Not CORS-safelisted, so a page reads them only when exposed: the OFREP web provider needs
# the ETag to send If-None-Match; Retry-After tells it when to come back after a 429.
EXPOSED = ("ETag", "Retry-After", "X-Request-Id")


def parse_origins(raw: str) -> list[str]:
    """`*`, or origins separated by commas (`https://app.example.com,http://localhost:3000`)."""
    return [origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()]


def sdk_policy(app: ASGIApp, sdk_origins: str) -> CORSMiddleware:
    return CORSMiddleware(
        app,
        allow_origins=parse_origins(sdk_origins),
        allow_methods=("GET", "POST", "OPTIONS"),
        allow_headers=SDK_HEADERS,
        expose_headers=EXPOSED,
        allow_private_network=True,
        max_age=86400,
    )


def simple_answer_headers(policy: CORSMiddleware, origin: bytes) -> list[tuple[bytes, bytes]]:
    """The headers `policy` adds to the answer to a request from `origin` that is not a
    preflight, in its order, but for `Vary` (`varying_on_origin` merges that): for answers
    written without passing through it (api/sdk/*_on_the_wire.py)."""
    added = [(name.lower().encode("latin-1"), value.encode("latin-1"))
             for name, value in policy.simple_headers.items()]
    text = origin.decode("latin-1")
    if (policy.allow_all_origins and policy.allow_credentials) or \
            (not policy.allow_all_origins and policy.is_allowed_origin(text)):
        explicit = (b"access-control-allow-origin", origin)
        at = [i for i, (name, _) in enumerate(added) if name == explicit[0]]
        if at:
            added[at[0]] = explicit
        else:
            added.append(explicit)
    return added


class CorsByPath:
    """One CORS policy for the SDK routes and another for the management routes."""

    def __init__(self, app: ASGIApp, sdk_origins: str, management_origins: str) -> None:
        self.app = app
        self.sdk = sdk_policy(app, sdk_origins)
        # With no origin configured every preflight is refused (400) before authentication,
        # and no response carries Access-Control-Allow-Origin, so browsers read nothing.
        self.management = CORSMiddleware(
            app,
            allow_origins=parse_origins(management_origins),
            allow_methods=("GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"),
            allow_headers=MANAGEMENT_HEADERS,
            expose_headers=EXPOSED,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            policy = self.sdk if path.startswith(SDK_PREFIXES) else \
                self.management if is_management_path(path) else None
            if policy is not None:
                if any(name == b"origin" for name, _ in scope["headers"]):
                    await policy(scope, receive, send)
                else:
                    await self.app(scope, receive, _vary_on_origin(send))
                return
        await self.app(scope, receive, send)


def _vary_on_origin(send: Send) -> Send:
    """What either policy does to a response for a request without `Origin` (servers, SDKs,
    curl: most requests), without the per-request header objects: `Vary` gains `Origin`."""

    async def send_varying(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = varying_on_origin(list(message.get("headers", ())))
        await send(message)

    return send_varying


def varying_on_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with one `Vary`, where the first stood, listing them all and then `Origin`."""
    at = [i for i, (name, _) in enumerate(headers) if name.lower() == b"vary"]
    if not at:
        return [*headers, (b"vary", b"Origin")]
    headers[at[0]] = (b"vary", b", ".join([*(headers[i][1] for i in at), b"Origin"]))
    return [h for i, h in enumerate(headers) if i not in at[1:]]
