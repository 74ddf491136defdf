"""Response shapes shared by both generations."""

from __future__ import annotations

from fastapi.responses import PlainTextResponse

# Amplitude answers sub-resource writes with the literal text OK.
OK_TEXT = "OK"


def ok() -> PlainTextResponse:
    return PlainTextResponse(OK_TEXT)
