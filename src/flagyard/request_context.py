"""What the edge knows about the request in hand that a use case records but never acts on:
the client's address, for the audit log. Set by the outermost HTTP middleware; None elsewhere
(the CLI, background jobs)."""

from __future__ import annotations

from contextvars import ContextVar

client_address: ContextVar[str | None] = ContextVar("client_address", default=None)
