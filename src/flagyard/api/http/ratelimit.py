"""Per-key rate limit on management routes: a token bucket per key, in each process.

Amplitude documents 100 requests per second per key; `FLAGYARD_RATE_LIMIT_PER_SECOND` sets it
(0 turns it off). A bucket holds one second's worth, so short bursts pass.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from flagyard.api.http.errors import domain_error_response
from flagyard.errors import RateLimited


class TokenBuckets:
    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}  # key -> (tokens, updated at)
        self._lock = threading.Lock()

    def take(self, key: object) -> float:
        """0 if the request may pass, else the seconds until it would."""
        with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.get(key, (self.rate, now))
            tokens = min(self.rate, tokens + (now - updated) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def admit(self, key: object) -> None:
        """Take a token of `key`'s bucket, or raise RateLimited with the seconds to wait (whole
        seconds: clients misread fractions and dates)."""
        wait = self.take(key)
        if wait > 0:
            raise RateLimited(f"more than {self.rate:g} requests per second with this key",
                              retry_after=max(1, math.ceil(wait)))


class RateLimitMiddleware:
    """Runs inside authentication: limits by the management key that was resolved."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets | None) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] == "http" else None
        if self.buckets is not None and principal is not None:
            try:
                self.buckets.admit(principal.key_id)
            except RateLimited as error:
                await domain_error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def token_buckets(rate: float) -> TokenBuckets | None:
    """Buckets of `rate` tokens a second; None for a rate of 0, which means no limit."""
    return TokenBuckets(rate) if rate > 0 else None
