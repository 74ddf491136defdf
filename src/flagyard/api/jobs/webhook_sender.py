"""Webhook deliveries over HTTP, refusing targets inside the network unless allowed.

A target whose host resolves to a private, loopback, link-local or otherwise reserved address
is refused (a webhook must not become a way to reach the server's own network), when the
webhook is saved and again before each send, since DNS may change. Redirects are never
followed: a 3xx answer is a failed attempt like any other non-2xx.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from flagyard.manage.ports import SendResult

TIMEOUT_SECONDS = 10.0


class HttpWebhookSender:
    def __init__(self, allow_private: bool, timeout: float = TIMEOUT_SECONDS) -> None:
        self._allow_private = allow_private
        self._client = httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False)

    def refusal(self, url: str) -> str | None:
        if self._allow_private:
            return None
        host = urlsplit(url).hostname or ""
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
        except (OSError, UnicodeError):
            # Not resolvable now: nothing to refuse yet (sending fails, and is logged, until it
            # resolves; it is checked again before every send).
            return None
        for address in sorted(addresses):
            ip = ipaddress.ip_address(str(address).split("%", 1)[0])
            if not ip.is_global:
                return (f"points at {address}, a private, loopback or link-local address; set "
                        "FLAGYARD_WEBHOOK_ALLOW_PRIVATE=true to allow targets inside the network")
        return None

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult:
        refused = self.refusal(url)
        if refused:
            return SendResult(None, 0.0, f"not sent: the url {refused}")
        started = time.perf_counter()
        try:
            answer = self._client.post(url, content=body, headers=dict(headers))
        except httpx.HTTPError as error:
            return SendResult(None, (time.perf_counter() - started) * 1000, f"{type(error).__name__}: {error}"[:500])
        return SendResult(answer.status_code, (time.perf_counter() - started) * 1000)

    def close(self) -> None:
        self._client.close()
